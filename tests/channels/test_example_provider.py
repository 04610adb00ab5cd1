"""Adding a send-only provider takes the file count written in docs/providers.md.

The worked example is `tests/channels/example_provider.py`. The count is taken, not assumed:
every file of the repository that names the example is listed, and the only ones that may are
the example itself, its test (this file) and the guide; the daemon (notifier/) never does. The
example is then run for real: the daemon, configured with nothing but its module path, sends an
activation's SMS through it to a local HTTP receiver, and the opt-out check still applies.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from aiohttp import web

from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime, make_clock
from notifier.store import outbox_repo
from notifier.store.db import upgrade_async
from tests.engine.conftest import free_port, system_settings, write_small_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "tests/channels/example_provider.py"
GUIDE = ROOT / "docs" / "providers.md"


def files_naming(word: str) -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    found = set()
    for name in listed:
        path = ROOT / name
        readable = path.is_file() and path.suffix in (".py", ".md", ".yaml", ".toml", ".cfg", ".json", ".sh")
        if readable and word in path.read_text(errors="replace"):
            found.add(name)
    return found


def test_a_send_only_provider_is_one_module_and_its_test() -> None:
    touched = files_naming("example_provider") | files_naming("example-http-sms")
    assert not [f for f in touched if f.startswith("notifier/")], "the daemon must not name a provider"
    needed = touched - {"docs/providers.md"}
    assert needed == {EXAMPLE, "tests/channels/test_example_provider.py"}
    module_files, with_test = len(needed - {"tests/channels/test_example_provider.py"}), len(needed)
    guide = GUIDE.read_text()
    found = re.search(r"send-only provider takes (\d+) file.*?(\d+) files\*\* with\s+its test", guide, re.S)
    assert found, "the guide states the count"
    assert (int(found[1]), int(found[2])) == (module_files, with_test) == (1, 2)


async def test_the_example_provider_sends_an_activation_with_only_its_configuration(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []

    async def sms(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"queued": True}, status=201)

    app = web.Application()
    app.router.add_post("/sms", sms)
    runner = web.AppRunner(app)
    await runner.setup()
    receiver_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    port = free_port()
    settings = system_settings(
        tmp_path,
        port,
        scale=60.0,
        delivery={"sms": ["tests.channels.example_provider"], "voice": ["twilio"], "email": ["smtp"]},
        providers={"example-http-sms": {"url": f"http://127.0.0.1:{receiver_port}/sms"}},
        **write_small_config(tmp_path / "cfg"),
    )
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, make_clock(settings))
    await runtime.start()
    try:
        assert runtime.db is not None and runtime.engine is not None
        async with runtime.db.begin() as conn:  # Ana texted STOP some time ago
            await outbox_repo.set_opt_out(conn, "+32470990201", True, runtime.clock.now())
        await runtime.engine.activate(
            "eos-oncall", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t"
        )
        for _ in range(200):
            if received:
                break
            await runtime.clock.sleep(1)
        assert [r["to"] for r in received] == ["+32470990203"]
        assert "Reply 1" in received[0]["text"] and received[0]["from"] == "+15005550006"
        await runtime.engine.activate("eos", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t")
        await runtime.sandbox.device("+32470990201").expect_call(timeout=10)  # opted out: a call, no SMS
        assert [r["to"] for r in received] == ["+32470990203"]
    finally:
        await runtime.stop(timeout=5)
        await runner.cleanup()
