"""Real processes for crash tests: a sandbox subprocess and a daemon subprocess sharing a database.

The sandbox runs in its own process so that what it received survives killing the daemon.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.engine.conftest import free_port

NOTIFIER = str(Path(sys.executable).with_name("notifier"))
ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "crash-test-token"


def write_broadcast_config(
    directory: Path, count: int, methods: str, *, mode: str = "broadcast"
) -> list[str]:
    """A plan of `count` people and one tree `bulk` naming each of them; returns their mobiles."""
    numbers = [f"+32470{100000 + i}" for i in range(count)]
    people = "\n".join(
        f"  - {{id: p{i:05d}, name: Person {i}, contacts: [{{kind: sms, address: '{n}', label: mobile}},"
        f" {{kind: voice, address: '{n}', label: mobile}}]}}"
        for i, n in enumerate(numbers)
    )
    (directory / "plan.yaml").write_text(
        "organisation: {name: Crash trial, timezone: Europe/Brussels,\n"
        "  message_defaults: {convene: 'Bridge 1, now', instructions: Reply when you can,\n"
        "                     scenario: Trial run}}\n"
        "people:\n" + people + "\n"
    )
    nodes = "\n".join(f"      - person: p{i:05d}" for i in range(count))
    (directory / "bulk.yaml").write_text(
        "policies:\n"
        f"  - id: bulk\n    methods: {methods}\n    rounds: 1\n    respect_hours: false\n"
        "calltrees:\n"
        f"  - id: bulk\n    name: Bulk\n    mode: {mode}\n    policy: bulk\n    nodes:\n{nodes}\n"
    )
    return numbers


class Processes:
    def __init__(self, tmp_path: Path, directory: Path, max_in_flight: int = 20) -> None:
        self.tmp = tmp_path
        self.sandbox_port = free_port()
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            {
                "NOTIFIER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}",
                "NOTIFIER_PLAN_PATHS": json.dumps([str(directory / "plan.yaml")]),
                "NOTIFIER_CALLTREE_PATHS": json.dumps([str(directory / "bulk.yaml")]),
                "NOTIFIER_HTTP_PORT": str(self.http_port),
                "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.http_port}",
                "NOTIFIER_SANDBOX": "false",
                "NOTIFIER_CONFIG": str(tmp_path / "absent.yaml"),
                "NOTIFIER_LOG_FORMAT": "json",
                "NOTIFIER_MAX_IN_FLIGHT": str(max_in_flight),
                "NOTIFIER_TWILIO__ACCOUNT_SID": ACCOUNT_SID,
                "NOTIFIER_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
                "NOTIFIER_TWILIO__BASE_URL": f"http://127.0.0.1:{self.sandbox_port}",
                "NOTIFIER_TWILIO__FROM_NUMBERS": json.dumps([f"+1500555{i:04d}" for i in range(10)]),
                "NOTIFIER_TWILIO__RATE_PER_SENDER": "500",
                "NOTIFIER_SMTP__PORT": str(self.smtp_port),
            }
        )
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def run(self, *args: str) -> str:
        result = subprocess.run([NOTIFIER, *args], env=self.env, capture_output=True, text=True, cwd=self.tmp)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def _spawn(self, name: str, args: Iterable[str]) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        handle = log.open("wb")
        return subprocess.Popen(
            [NOTIFIER, *args], env=self.env, cwd=self.tmp, stdout=handle, stderr=subprocess.STDOUT
        )

    def start_sandbox(self) -> None:
        self.sandbox = self._spawn(
            "sandbox",
            [
                "sandbox",
                "--port",
                str(self.sandbox_port),
                "--smtp-port",
                str(self.smtp_port),
                "--inbound-sms-url",
                f"http://127.0.0.1:{self.http_port}/webhooks/twilio/sms",
                "--account-sid",
                ACCOUNT_SID,
                "--auth-token",
                AUTH_TOKEN,
            ],
        )
        self._wait_http(f"http://127.0.0.1:{self.sandbox_port}/sandbox/messages", self.sandbox)

    def start_daemon(self) -> None:
        self.daemon = self._spawn("daemon", ["serve"])
        self._wait_http(f"http://127.0.0.1:{self.http_port}/healthz", self.daemon)

    def _wait_http(self, url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.logs[-1].read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{url} did not answer")

    def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(sig)
        self.daemon.wait(timeout=30)

    def api(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def sandbox_json(self, what: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.sandbox_port}/sandbox/{what}", timeout=10
        ) as response:
            data = json.loads(response.read())
        return data if isinstance(data, list) else data.get(what, data.get("items", []))

    def stop(self) -> None:
        for proc in (self.daemon, self.sandbox):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
