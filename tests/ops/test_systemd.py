"""Issue 6: the daemon speaks sd_notify (READY, WATCHDOG at the interval, STOPPING on SIGTERM) and
the unit file passes `systemd-analyze verify`."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.conftest import ROOT, free_port

NOTIFIER = str(Path(sys.executable).with_name("notifier"))


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "NOTIFIER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'n.db'}",
            "NOTIFIER_PLAN_PATHS": f'["{ROOT / "config" / "plan.yaml"}"]',
            "NOTIFIER_CALLTREE_PATHS": f'["{ROOT / "calltrees"}"]',
            "NOTIFIER_HTTP_PORT": str(port),
            "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "NOTIFIER_CONFIG": str(tmp_path / "absent.yaml"),
            "NOTIFIER_LOG_FORMAT": "json",
        }
    )
    return env


def test_daemon_notifies_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    subprocess.run([NOTIFIER, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    sock_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(sock_path))
    listener.settimeout(0.2)
    env.update({"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})  # 0.4 s: pings every 0.2 s
    proc = subprocess.Popen(
        [NOTIFIER, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    env["WATCHDOG_PID"] = str(proc.pid)
    received: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for _, m in received) < 4:
            try:
                message = listener.recv(4096).decode()
                received.append((time.monotonic(), message))  # when it arrived, not when we began waiting
            except TimeoutError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        messages = [m for _, m in received]
        assert any("READY=1" in m for m in messages), messages
        ready_index = next(i for i, m in enumerate(messages) if "READY=1" in m)
        pings = [t for t, m in received[ready_index:] if "WATCHDOG=1" in m]
        assert len(pings) >= 4, messages
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert max(gaps) < 0.4, gaps  # always inside the watchdog timeout
        proc.send_signal(signal.SIGTERM)
        stopping = False
        end = time.monotonic() + 20
        while time.monotonic() < end and not stopping:
            try:
                stopping = "STOPPING=1" in listener.recv(4096).decode()
            except TimeoutError:
                continue
        assert stopping
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


def test_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (scripts/setup.sh installs it)")
    unit = (ROOT / "systemd" / "notifier.service").read_text()
    # verify checks that ExecStart binaries exist: point the unit at this checkout's virtualenv
    unit = unit.replace("/opt/notifier/.venv/bin/notifier", NOTIFIER)
    target = tmp_path / "notifier.service"
    target.write_text(unit)
    result = subprocess.run([analyze, "verify", str(target)], capture_output=True, text=True)
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "notifier.service" in line and "Failed to" not in line.split("notifier.service")[0]
    ]
    assert result.returncode == 0, result.stdout + result.stderr
    assert not problems, problems
