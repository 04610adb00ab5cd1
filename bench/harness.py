"""Shared pieces: a store per run (SQLite file or a database in the temporary PostgreSQL cluster),
generated plans of N people, the sandbox process, and an in-process `Runtime` pointed at it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.pg import PostgresCluster
from notifier.clock import RealClock
from notifier.runtime import Runtime
from notifier.settings import Settings
from notifier.store.db import upgrade_async

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
SENDERS = [f"+1500555{i:04d}" for i in range(10)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def number(i: int) -> str:
    """A fictitious Belgian mobile per person index (never a real subscriber range in examples)."""
    return f"+3247{1000000 + i:07d}"


@dataclass
class Tree:
    id: str
    people: range
    methods: str = "[{kind: sms, wait: 30m}]"
    mode: str = "broadcast"


def write_config(directory: Path, count: int, trees: Iterable[Tree], routes: str = "") -> None:
    """A plan of `count` people (one SMS and one voice contact each), the TAXUD service SEED, the
    given trees, and `routes` (YAML list items) if any."""
    directory.mkdir(parents=True, exist_ok=True)
    people = "\n".join(
        f"  - {{id: p{i:06d}, name: Person {i}, contacts: [{{kind: sms, address: '{number(i)}'}},"
        f" {{kind: voice, address: '{number(i)}'}}]}}"
        for i in range(count)
    )
    (directory / "plan.yaml").write_text(
        "organisation: {name: Benchmark, timezone: Europe/Brussels}\n"
        "services:\n  - {id: SEED, name: System for Exchange of Excise Data, rto_tier: 1}\n"
        "people:\n" + people + "\n"
    )
    policies, trees_yaml = [], []
    for tree in trees:
        policies.append(
            f"  - id: {tree.id}\n    methods: {tree.methods}\n    rounds: 1\n    respect_hours: false"
        )
        nodes = "\n".join(f"      - person: p{i:06d}" for i in tree.people)
        trees_yaml.append(
            f"  - id: {tree.id}\n    name: {tree.id}\n    mode: {tree.mode}\n    policy: {tree.id}\n"
            f"    nodes:\n{nodes}"
        )
    (directory / "trees.yaml").write_text(
        "policies:\n"
        + "\n".join(policies)
        + "\ncalltrees:\n"
        + "\n".join(trees_yaml)
        + "\n"
        + (f"routes:\n{routes}\n" if routes else "")
    )


@dataclass
class Stores:
    """Fresh migrated databases on demand; the PostgreSQL cluster starts on first use."""

    workdir: Path
    cluster: PostgresCluster | None = None
    count: int = 0

    async def new(self, kind: str) -> str:
        self.count += 1
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{self.workdir / f'bench-{self.count}.db'}"
        else:
            if self.cluster is None:
                self.cluster = PostgresCluster().start()
            url = self.cluster.create_database()
        await upgrade_async(url)
        return url

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


@dataclass
class SandboxProcess:
    inbound_sms_url: str | None = None
    port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxProcess:
        args = [str(self.port), str(self.stats_port), ACCOUNT_SID, AUTH_TOKEN]
        if self.inbound_sms_url:
            args.append(self.inbound_sms_url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sandbox_server", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("the sandbox process did not start")
        return self

    async def _get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.stats_port}{path}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.json()

    async def count(self) -> dict[str, int]:
        result: dict[str, int] = await self._get("/bench/count")
        return result

    async def requests(self) -> list[list[Any]]:
        """[arrival time (epoch s), resource ('Messages.json'), From, HTTP status] per REST request."""
        result: list[list[Any]] = (await self._get("/bench/requests"))["requests"]
        return result

    async def span(self, resource: str = "Messages.json") -> dict[str, Any]:
        """{count, first, last}: how many requests for `resource` arrived, first and last (epoch s)."""
        result: dict[str, Any] = await self._get(f"/bench/span?resource={resource}")
        return result

    async def reset(self) -> None:
        async with aiohttp.ClientSession() as session:
            await session.post(f"http://127.0.0.1:{self.stats_port}/bench/reset")

    async def wait_requests(self, count: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while (await self.count())["requests"] < count:
            if time.monotonic() > end:
                raise TimeoutError(f"the sandbox did not receive {count} requests in {timeout:.0f} s")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


#: webhook worker processes of the daemon under test (`python -m bench --webhook-workers N`)
WEBHOOK_WORKERS = int(os.environ.get("BENCH_WEBHOOK_WORKERS", "1"))


_WEBHOOK_PORTS: dict[int, int] = {}


def webhook_port(http_port: int) -> int:
    """Where the daemon under test takes Twilio's webhooks: its workers' port, or its own."""
    if not WEBHOOK_WORKERS:
        return http_port
    return _WEBHOOK_PORTS.setdefault(http_port, free_port())


def state_dir(config: Path) -> Path:
    """The daemon's state directory beside its configuration, or, where that path is too long for
    the webhook workers' unix sockets (a deep pytest tmp_path), a short one under the system's
    temporary directory, named after the configuration so the same run finds it again."""
    state = config / "state"
    if len(str(state).encode()) <= 60:
        return state
    digest = hashlib.sha256(str(config).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"nb-{digest}"


def settings_for(
    database_url: str, config: Path, sandbox: SandboxProcess, http_port: int, **overrides: Any
) -> Settings:
    hooks = webhook_port(http_port)
    values: dict[str, Any] = {
        "state_dir": state_dir(config),
        "webhooks": {
            "workers": WEBHOOK_WORKERS,
            "port": hooks,
            "public_base_url": f"http://127.0.0.1:{hooks}",
        },
        "database_url": database_url,
        "plan_paths": [config / "plan.yaml"],
        "calltree_paths": [config / "trees.yaml"],
        "public_base_url": f"http://127.0.0.1:{http_port}",
        "http_port": http_port,
        "sandbox": False,
        "secret_key": "bench-secret",
        "log_format": "json",
        "max_in_flight": 50,
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "base_url": sandbox.url,
            "from_numbers": SENDERS,
            "rate_per_sender": 1_000_000.0,
        },
        **overrides,
    }
    return Settings(**values)


async def start_runtime(settings: Settings) -> Runtime:
    return await Runtime(settings, RealClock()).start(http=True)


def quiet_logs() -> None:
    """Per-message info lines would cost more than the work measured: warnings only, to stderr."""
    from notifier.logging import configure_logging

    configure_logging("json", level=logging.WARNING)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
