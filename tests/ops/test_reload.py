"""Issue 6 acceptance: SIGHUP with a broken call-tree file keeps the old trees serving and logs the
file:line error; after the file is fixed, SIGHUP makes the new tree available to new activations.

A real daemon subprocess (in-process sandbox, SQLite) with its own copy of `calltrees/`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import ROOT, free_port

NOTIFIER = str(Path(sys.executable).with_name("notifier"))
BROKEN = """calltrees:
  - id: eos-night
    name: EOS night shift
    mode: broadcast
    policy: standard
    nodes:
      - role: eos-night-duty
"""
FIXED = BROKEN.replace("role: eos-night-duty", "role: digit-duty-engineer")


def example_trees() -> list[str]:
    from notifier.plan.loader import load

    loaded = load([ROOT / "config" / "plan.yaml", ROOT / "calltrees"])
    assert loaded.trees is not None
    return [tree.id for tree in loaded.trees.calltrees]


class Daemon:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.trees = tmp / "calltrees"
        shutil.copytree(ROOT / "calltrees", self.trees)
        self.log = tmp / "daemon.log"
        self.env = dict(os.environ)
        self.env.update(
            {
                "NOTIFIER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'n.db'}",
                "NOTIFIER_PLAN_PATHS": json.dumps([str(ROOT / "config" / "plan.yaml")]),
                "NOTIFIER_CALLTREE_PATHS": json.dumps([str(self.trees)]),
                "NOTIFIER_HTTP_PORT": str(self.port),
                "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
                "NOTIFIER_CONFIG": str(tmp / "absent.yaml"),
                "NOTIFIER_LOG_FORMAT": "json",
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    def cli(self, *args: str) -> str:
        result = subprocess.run([NOTIFIER, *args], env=self.env, cwd=self.tmp, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    def start(self) -> None:
        self.cli("db", "upgrade")
        self.token = self.cli("token", "create", "--role", "coordinator", "--name", "reload-test")
        with self.log.open("wb") as handle:
            self.proc = subprocess.Popen(
                [NOTIFIER, "serve"], env=self.env, cwd=self.tmp, stdout=handle, stderr=subprocess.STDOUT
            )
        self.wait_log(lambda e: e.get("event") == "ready", "the ready line")

    def events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                events.append({"event": line})
        return events

    def wait_log(self, match: Any, what: str, after: int = 0, timeout: float = 30) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited:\n{self.log.read_text()[-3000:]}")
            for event in self.events()[after:]:
                if match(event):
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no {what} in the log:\n{self.log.read_text()[-3000:]}")

    def hangup(self, match: Any, what: str) -> dict[str, Any]:
        assert self.proc is not None
        seen = len(self.events())
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_log(match, what, after=seen)

    def activate(self, tree: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/activations",
            method="POST",
            data=json.dumps({"tree": tree, "kind": "test", "fields": {"scenario": "EOS outage"}}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.mark.slow
def test_sighup_keeps_old_trees_on_a_broken_file_and_loads_the_fixed_one(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path)
    daemon.start()
    try:
        broken = daemon.trees / "eos-night.yaml"
        broken.write_text(BROKEN)
        refused = daemon.hangup(lambda e: "reload refused" in str(e.get("event")), "reload refusal")
        problems = str(refused.get("problems", ""))
        assert f"{broken}:7:" in problems, refused  # file:line(:column) of the unknown role
        assert "eos-night-duty" in problems
        # the running configuration still serves: an existing tree activates, the new one is unknown
        status, body = daemon.activate("nist-sample")
        assert status == 201, body
        status, body = daemon.activate("eos-night")
        assert status in (404, 409, 422), body

        broken.write_text(FIXED)
        reloaded = daemon.hangup(lambda e: e.get("event") == "reloaded plan and call trees", "reload")
        assert reloaded["trees"] == len(example_trees()) + 1, reloaded
        status, body = daemon.activate("eos-night")
        assert status == 201, body
        assert body["tree"] == "eos-night"
        assert [n["key"] for n in body["nodes"]] == ["digit-duty-engineer"]
        status, body = daemon.activate("nist-sample")  # the old trees are still there
        assert status == 201, body
    finally:
        daemon.stop()
    assert daemon.proc is not None and daemon.proc.returncode == 0
