"""A real daemon on the sandbox (one per module, 60x clock) and Debian's Chromium driven by Playwright.

The browser is `/usr/bin/chromium` from Debian (`scripts/setup.sh` installs it); Playwright never
downloads one. A missing Chromium fails the tests with the command that installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_e2e.conftest import Daemon
from tests.engine.conftest import ROOT

CHROMIUM = os.environ.get("NOTIFIER_CHROMIUM", "/usr/bin/chromium")
# The README's pictures: `NOTIFIER_CONSOLE_SCREENSHOTS=docs/screenshots pytest tests/console` rewrites
# them. Otherwise they go to a temporary directory, so a test run never leaves the work tree dirty
# (a dirty main work tree would block the next fast-forward merge).
SCREENSHOTS = Path(
    os.environ.get("NOTIFIER_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="console-screenshots-")
)
AXE = ROOT / "tests" / "console" / "vendor" / "axe-4.14.1.min.js"
TEST_TREES = ROOT / "tests" / "console" / "console-drill.yaml"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Installed before every page script: records each live fragment the SSE stream swaps in, with the
# wall-clock time the engine published the step and the time the page showed it.
SWAP_RECORDER = """
window.__swaps = [];
new MutationObserver((mutations) => {
  for (const m of mutations) for (const n of m.addedNodes) {
    if (n.nodeType === 1 && n.matches && n.matches('.live[data-published]')) {
      window.__swaps.push({published: parseFloat(n.dataset.published), seen: Date.now() / 1000});
    }
  }
}).observe(document, {subtree: true, childList: true});
"""


class ConsoleDaemon(Daemon):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, scale=60)
        self.env["NOTIFIER_CALLTREE_PATHS"] = json.dumps([str(ROOT / "calltrees"), str(TEST_TREES)])
        self.tokens: dict[str, str] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def boot(self) -> None:
        super().boot()
        self.tokens["coordinator"] = self.token
        for role in ("viewer", "admin", "integration"):
            self.tokens[role] = self.run(
                "token", "create", "--role", role, "--name", f"{role}-console"
            ).strip()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleDaemon]:
    procs = ConsoleDaemon(tmp_path_factory.mktemp("console"))
    try:
        procs.boot()
        yield procs
    finally:
        procs.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(apt-get install chromium, or run scripts/setup.sh); the console tests never download a browser"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]' (or run scripts/setup.sh)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


#: errors the browser reported (a script error, a Content-Security-Policy refusal), per sign-in
BROWSER_ERRORS: list[str] = []


def sign_in(browser: Any, daemon: ConsoleDaemon, role: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A new browser context signed in with the token of `role`; returns its page."""
    context = browser.new_context(viewport=viewport, base_url=daemon.base)
    context.add_init_script(SWAP_RECORDER)
    page = context.new_page()
    BROWSER_ERRORS.clear()
    page.on(
        "console", lambda message: BROWSER_ERRORS.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: BROWSER_ERRORS.append(str(error)))
    page.goto("/console/")
    page.get_by_label("API token").fill(daemon.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
    return page


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page (WCAG 2.x A/AA rules)."""
    # evaluated through the DevTools protocol: the page's Content-Security-Policy (which refuses
    # inline scripts) stays on for everything else
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', "
        "values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))  # the first screenful, as a user sees it


def write_measurement(name: str, data: dict[str, Any]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
