"""Real processes for the coordinator's view: a sandbox subprocess and `notifier serve` on the example
plan and call trees, a coordinator token, and a helper that runs the `notifier` CLI against them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import ROOT
from tests.engine.procs import NOTIFIER, Processes


class Daemon(Processes):
    """`Processes` on config/plan.yaml and calltrees/, with the CLI pointed at the daemon."""

    def __init__(self, tmp_path: Path, scale: float) -> None:
        super().__init__(tmp_path, tmp_path)
        self.env.update(
            {
                "NOTIFIER_PLAN_PATHS": json.dumps([str(ROOT / "config" / "plan.yaml")]),
                "NOTIFIER_CALLTREE_PATHS": json.dumps([str(ROOT / "calltrees")]),
                "NOTIFIER_CLOCK_SCALE": str(scale),
                "NOTIFIER_API_URL": f"http://127.0.0.1:{self.http_port}",
            }
        )
        self.token = ""

    def boot(self) -> None:
        self.run("db", "upgrade")
        self.token = self.run("token", "create", "--role", "coordinator", "--name", "coordinator-e2e").strip()
        self.env["NOTIFIER_API_TOKEN"] = self.token
        self.start_sandbox()
        self.start_daemon()

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NOTIFIER, *args], env=self.env, capture_output=True, text=True, cwd=self.tmp, timeout=timeout
        )

    def cli_json(self, *args: str) -> object:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def personas(self, items: list[dict[str, object]]) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.sandbox_port}/sandbox/personas",
            data=json.dumps(items).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    procs = Daemon(tmp_path, scale=60)
    try:
        procs.boot()
        yield procs
    finally:
        procs.stop()
