"""Real daemons in subprocesses around a sandbox that lives in the test process.

Why the sandbox runs here, in a thread of its own, and not in a subprocess: the tests need to
script provider faults (`Faults`) and personas while daemons run, and to read what every handset
received after a daemon was killed with SIGKILL. The daemons are real `notifier serve` processes
(what runs in production), so kill -9 means kill -9.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from notifier.clock import RealClock
from notifier.sandbox import Faults, Persona, Sandbox
from tests.engine.conftest import free_port

NOTIFIER = str(Path(sys.executable).with_name("notifier"))
ACCOUNT_SID = "AC" + "d" * 32
AUTH_TOKEN = "reliability-token"
T = TypeVar("T")


def numbers_for(count: int, prefix: str = "+32470") -> list[str]:
    """Fictitious Belgian mobiles, one per person."""
    return [f"{prefix}{200000 + i}" for i in range(count)]


def write_tree(
    directory: Path,
    numbers: list[str],
    methods: str,
    *,
    mode: str = "broadcast",
    emails: bool = False,
    policy: str = "",
    tree: str = "",
) -> None:
    """A plan with one person per number and a tree `bulk` (policy `bulk`) naming each of them;
    `policy` and `tree` are extra YAML fields of each, e.g. `validity_period: 2m`."""

    def contacts(i: int, n: str) -> str:
        items = [f"{{kind: sms, address: '{n}', label: mobile}}", f"{{kind: voice, address: '{n}'}}"]
        if emails:
            items.append(f"{{kind: email, address: 'person{i}@example.org'}}")
        return "[" + ", ".join(items) + "]"

    people = "\n".join(
        f"  - {{id: p{i:05d}, name: Person {i}, contacts: {contacts(i, n)}}}" for i, n in enumerate(numbers)
    )
    (directory / "plan.yaml").write_text(
        "organisation: {name: Reliability trial, timezone: Europe/Brussels,\n"
        "  message_defaults: {convene: 'Bridge 1, now', instructions: Reply when you can,\n"
        "                     scenario: Trial run}}\n"
        "people:\n" + people + "\n"
    )
    nodes = "\n".join(f"      - person: p{i:05d}" for i in range(len(numbers)))
    (directory / "bulk.yaml").write_text(
        "policies:\n"
        f"  - id: bulk\n    methods: {methods}\n    rounds: 1\n    respect_hours: false\n"
        + (f"    {policy}\n" if policy else "")
        + "calltrees:\n"
        + f"  - id: bulk\n    name: Bulk\n    mode: {mode}\n    policy: bulk\n"
        + (f"    {tree}\n" if tree else "")
        + f"    nodes:\n{nodes}\n"
    )


class SandboxThread:
    """A `Sandbox` on its own event loop in a background thread; read its records from any thread."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)
        self.thread.start()
        self.box = Sandbox(
            ACCOUNT_SID, AUTH_TOKEN, clock=RealClock(), smtp_port=0, faults=faults or Faults(seed=8)
        )
        self.call(self.box.start)

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    @property
    def faults(self) -> Faults:
        return self.box.faults

    def personas(self, *personas: Persona) -> None:
        self.box.personas.add(*personas)

    def sms_to(self, start: int = 0) -> Counter[str]:
        return Counter(m.to for m in list(self.box.messages)[start:])

    def calls_to(self, start: int = 0) -> Counter[str]:
        return Counter(c.to for c in list(self.box.calls)[start:])

    def mark(self) -> tuple[int, int, int, int]:
        """Positions in the message, call, email and inbound lists (a trial reads what follows)."""
        box = self.box
        return len(box.messages), len(box.calls), len(box.emails), len(box.inbound)

    def stop(self) -> None:
        self.call(self.box.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


_SPARE = """
import sys, time, pathlib
from notifier.cli import app
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
sys.argv = ["notifier", "serve"]
app()
"""


@dataclass
class Daemon:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Cluster:
    """One database, one sandbox, any number of `notifier serve` processes."""

    tmp: Path
    config: Path
    database_url: str
    sandbox: SandboxThread
    max_in_flight: int = 20
    extra_env: dict[str, str] = field(default_factory=dict)
    daemons: list[Daemon] = field(default_factory=list)

    def env(self, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "NOTIFIER_DATABASE_URL": self.database_url,
                "NOTIFIER_PLAN_PATHS": json.dumps([str(self.config / "plan.yaml")]),
                "NOTIFIER_CALLTREE_PATHS": json.dumps([str(self.config / "bulk.yaml")]),
                "NOTIFIER_HTTP_PORT": str(port),
                "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "NOTIFIER_SANDBOX": "false",
                "NOTIFIER_CONFIG": str(self.tmp / "absent.yaml"),
                "NOTIFIER_LOG_FORMAT": "json",
                "NOTIFIER_MAX_IN_FLIGHT": str(self.max_in_flight),
                "NOTIFIER_SECRET_KEY": "reliability-secret",
                "NOTIFIER_TWILIO__ACCOUNT_SID": ACCOUNT_SID,
                "NOTIFIER_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
                "NOTIFIER_TWILIO__BASE_URL": self.sandbox.box.url,
                "NOTIFIER_TWILIO__FROM_NUMBERS": json.dumps([f"+1500555{i:04d}" for i in range(10)]),
                "NOTIFIER_TWILIO__RATE_PER_SENDER": "500",
                "NOTIFIER_TWILIO__TIMEOUT": "3",
                "NOTIFIER_SMTP__PORT": str(self.sandbox.box.smtp_port),
            }
        )
        env.update(self.extra_env)
        return env

    def prepare(self, role: str = "coordinator", *more_roles: str) -> list[str]:
        """Migrate the database and create one API token per role, in this process: the same code
        as `notifier db upgrade` and `notifier token create` without two 2-3 s CLI start-ups."""
        from notifier.api.tokens import Role, TokenStore
        from notifier.store.db import make_engine, upgrade_async

        async def run() -> list[str]:
            await upgrade_async(self.database_url)
            engine = make_engine(self.database_url)
            try:
                store = TokenStore(engine)
                return [(await store.create(f"{r}-trial", Role(r)))[1] for r in (role, *more_roles)]
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [NOTIFIER, *args], env=self.env(0), capture_output=True, text=True, cwd=self.tmp, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start_daemon(
        self,
        name: str = "a",
        port: int | None = None,
        wait: bool = True,
        spare: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Daemon:
        """`notifier serve` on `port` (a free one by default).

        With `spare`, the process imports the CLI first and runs `serve` only once that file exists:
        a warm spare that a crash trial releases right after the kill, so that each trial does not
        pay the 2-5 s of Python imports on a loaded CI machine. What runs is the same `serve`.
        """
        port = port or free_port()
        log = self.tmp / f"daemon-{name}-{len(self.daemons)}.log"
        command = [NOTIFIER, "serve"]
        if spare is not None:
            command = [sys.executable, "-c", _SPARE, str(spare)]
        proc = subprocess.Popen(
            command,
            env={**self.env(port), **(env or {})},
            cwd=self.tmp,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        daemon = Daemon(name, port, proc, log)
        self.daemons.append(daemon)
        if self.sandbox.box.inbound_sms_url is None or name == "a":
            self.sandbox.box.inbound_sms_url = f"{daemon.base}/webhooks/twilio/sms"
        if wait:
            self.wait_healthy(daemon)
        return daemon

    def wait_healthy(self, daemon: Daemon, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not daemon.alive():
                raise AssertionError(f"daemon {daemon.name} exited:\n{daemon.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{daemon.base}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"daemon {daemon.name} did not answer /healthz")

    def kill(self, daemon: Daemon, sig: int = signal.SIGKILL) -> None:
        daemon.proc.send_signal(sig)
        daemon.proc.wait(timeout=30)

    def stop(self) -> None:
        for daemon in self.daemons:
            if daemon.alive():
                daemon.proc.kill()
                daemon.proc.wait(timeout=10)


def http(
    method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    """A JSON request; returns (status, parsed body) for any status, never raises on 4xx/5xx."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def person_states(view: dict[str, Any]) -> dict[str, str]:
    return {p["person"]: p["status"] for node in view["nodes"] for p in node["people"]}
