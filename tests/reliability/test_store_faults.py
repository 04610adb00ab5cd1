"""Issue 8, database faults: PostgreSQL crashes and restarts while a daemon is notifying.

The cluster is this test's own (initdb in a temporary directory, as tests/conftest.py does for the
shared one) so that stopping it hurts no other test. While the database is down the daemon must
say so (`/readyz` 503), refuse alerts with 503 so that Alertmanager retries, and not die; once the
database is back it reconnects and keeps its promises: every contact gets the SMS and, after the
acknowledgement wait, the escalation call.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from notifier.sandbox import Faults, preset
from tests.conftest import _as_server_user, _find_bindir, _free_port, _server_user
from tests.reliability.harness import Cluster, SandboxThread, http, numbers_for, wait_for, write_tree
from tests.reliability.results import record

MAX_IN_FLIGHT = 5


def _sending(url: str) -> int:
    """Outbox rows in `sending`, read with the store's own engine."""
    from notifier.store.db import make_engine
    from notifier.store.outbox_repo import sending_count

    async def count() -> int:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await sending_count(conn)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def _replies(url: str) -> int:
    """Stored SMS replies (one row per reply applied)."""
    from sqlalchemy import func, select

    from notifier.store.db import make_engine
    from notifier.store.engine_tables import responses

    async def count() -> int:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                query = select(func.count()).select_from(responses).where(responses.c.channel == "sms")
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


@dataclass
class OwnPostgres:
    bindir: Path
    datadir: Path
    port: int
    options: str
    log: Path

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log), *args]
        result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr + (
            self.log.read_text()[-2000:] if self.log.exists() else ""
        )

    def start(self) -> None:
        self._pg_ctl("-o", self.options, "-w", "start")

    def crash(self) -> None:
        """`immediate` is PostgreSQL's crash stop: no checkpoint, connections cut, recovery at start."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(
            [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
        return self.url(name)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:

    bindir = _find_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="notifier-pg-restart-"))
    user = _server_user()
    if user is not None:
        os.chown(workdir, user.pw_uid, user.pw_gid)
    datadir = workdir / "data"
    init = subprocess.run(
        _as_server_user(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "--no-sync"]
        ),
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stderr
    port = _free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    server = OwnPostgres(bindir, datadir, port, options, workdir / "server.log")
    server.start()
    try:
        yield server
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_under_load(tmp_path: Path, own_postgres: OwnPostgres) -> None:
    numbers = numbers_for(40)
    config = tmp_path / "cfg"
    config.mkdir()
    write_tree(config, numbers, "[{kind: sms, wait: 6s}, {kind: voice, wait: 2s}]")
    sandbox = SandboxThread(Faults(seed=6, slow_seconds=0.5))  # sends in flight when it crashes
    sandbox.personas(*[preset("never_answers", n, ring_seconds=0.3) for n in numbers])
    url = own_postgres.create_database("restart")
    cluster = Cluster(tmp_path, config, url, sandbox, max_in_flight=MAX_IN_FLIGHT)
    try:
        token, intake = cluster.prepare("coordinator", "integration")
        daemon = cluster.start_daemon("a")
        assert http("GET", f"{daemon.base}/readyz")[0] == 200
        status, started = http(
            "POST",
            f"{daemon.base}/api/v1/activations",
            token,
            {"tree": "bulk", "kind": "drill", "fields": {"nature": "Database restart trial"}},
        )
        assert status == 201, started
        wait_for(lambda: sum(sandbox.sms_to().values()) >= 10, 30, "the fan-out to be under way")
        own_postgres.crash()
        down_at = time.monotonic()
        wait_for(lambda: http("GET", f"{daemon.base}/readyz")[0] == 503, 10, "/readyz to say not ready")
        not_ready_after = time.monotonic() - down_at
        alert = {"service": "SEED", "severity": "critical", "summary": "SEED down during the outage"}
        code, body = http("POST", f"{daemon.base}/api/v1/alerts", intake, alert)
        assert code == 503, f"an alert we cannot store must be 503 so that it is retried: {code} {body}"
        time.sleep(2)
        assert daemon.alive(), "the daemon died with its database"
        own_postgres.start()
        up_at = time.monotonic()
        wait_for(lambda: http("GET", f"{daemon.base}/readyz")[0] == 200, 30, "/readyz to recover")
        ready_again_after = time.monotonic() - up_at
        code, _ = http("POST", f"{daemon.base}/api/v1/alerts", intake, alert)
        assert code == 202, "the retried alert is accepted once the store is back"

        def finished() -> bool:
            code, view = http("GET", f"{daemon.base}/api/v1/activations/{started['id']}", token)
            return code == 200 and view["status"] != "open"

        wait_for(finished, 90, "the activation to finish after the restart")
        finished_after = time.monotonic() - up_at
        time.sleep(0.5)
        # issue 12: results that could not be stored were kept and written once the database was
        # back: no row is left `sending`, and a clean restart sends nothing again
        assert wait_for(lambda: _sending(url) == 0, 30, "no outbox row left sending") is not None
        sent_before_restart = (sum(sandbox.sms_to().values()), sum(sandbox.calls_to().values()))
        cluster.kill(daemon, signal.SIGTERM)
        again = cluster.start_daemon("a", port=daemon.port)
        time.sleep(3)
        assert again.alive()
        assert (sum(sandbox.sms_to().values()), sum(sandbox.calls_to().values())) == sent_before_restart, (
            "a clean restart after the database outage sent messages again"
        )
        sms, calls = sandbox.sms_to(), sandbox.calls_to()
        assert set(sms) == set(numbers), "an SMS was lost across the database restart"
        assert set(calls) == set(numbers), "an escalation deadline was lost across the database restart"
        duplicates = sum(c - 1 for c in sms.values()) + sum(c - 1 for c in calls.values())
        assert duplicates == 0, (sms.most_common(3), calls.most_common(3))
        assert not_ready_after < 10 and ready_again_after < 30
        if os.environ.get("RELIABILITY_RECORD"):
            record(
                "PostgreSQL crash and restart under load",
                {
                    "contacts": len(numbers),
                    "database down -> /readyz 503, s": f"{not_ready_after:.2f}",
                    "database up -> /readyz 200, s": f"{ready_again_after:.2f}",
                    "database up -> activation finished, s": f"{finished_after:.1f}",
                    "lost SMS": len(set(numbers) - set(sms)),
                    "lost escalation calls": len(set(numbers) - set(calls)),
                    "duplicates": duplicates,
                },
            )
    finally:
        cluster.stop()
        sandbox.stop()


DOWN_SECONDS = 30


@pytest.mark.slow
@pytest.mark.postgres
def test_replies_while_the_database_is_down_are_spooled_and_applied(
    tmp_path: Path, own_postgres: OwnPostgres
) -> None:
    """Issue 12 acceptance: the database is down for 30 s while everyone replies "1". Each signed
    reply is answered 200 (spooled, fsync'd) instead of 5xx, which Twilio would not retry, and so is
    its replay (same MessageSid); when the database is back every reply is applied once, in order,
    and everyone is acknowledged, although each SMS's 10 s wait ran out during the outage: the
    deadlines wait for the spooled replies received before them (engine/arrivals.py), so nobody is
    called. No row is left `sending`, and a clean restart afterwards sends nothing again."""
    from datetime import UTC, datetime, timedelta

    from notifier.sandbox import messaging

    numbers = numbers_for(20)
    config = tmp_path / "cfg"
    config.mkdir()
    write_tree(config, numbers, "[{kind: sms, wait: 10s}, {kind: voice, wait: 1m}]")
    sandbox = SandboxThread(Faults(seed=6))
    url = own_postgres.create_database("spool")
    cluster = Cluster(tmp_path, config, url, sandbox, max_in_flight=MAX_IN_FLIGHT)
    try:
        (token,) = cluster.prepare("coordinator")
        daemon = cluster.start_daemon("a")
        status, started = http(
            "POST",
            f"{daemon.base}/api/v1/activations",
            token,
            {"tree": "bulk", "kind": "drill", "fields": {"nature": "Database outage with replies"}},
        )
        assert status == 201, started
        box = sandbox.box
        wait_for(
            lambda: len(box.messages) == len(numbers) and all(m.status == "delivered" for m in box.messages),
            30,
            "every SMS to be delivered",
        )
        time.sleep(0.5)  # the last delivery callbacks
        own_postgres.crash()
        down_at = time.monotonic()
        answers = []
        for message in list(box.messages):
            inbound = sandbox.call(lambda m=message: messaging.send_inbound(box.state, m.to, m.from_, "1"))
            answers.append(inbound.callback)
        for callback in list(answers):  # Twilio (or a proxy) delivers each reply a second time
            answers.append(sandbox.call(lambda c=callback: box.state.webhook("inbound-sms", c.url, c.params)))
        assert all(a.status == 200 for a in answers), [(a.status, a.body[:80]) for a in answers]
        assert all("Received" in a.body for a in answers), answers[0].body
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        back_at = datetime.now(UTC)
        own_postgres.start()
        # every SMS's 10 s wait ran out while the database was down: its deadline was due first
        assert all(m.created_at + timedelta(seconds=10) < back_at for m in box.messages)

        def finished() -> bool:
            code, view = http("GET", f"{daemon.base}/api/v1/activations/{started['id']}", token)
            return code == 200 and view["status"] != "open"

        wait_for(finished, 60, "the spooled replies to complete the activation")
        _, view = http("GET", f"{daemon.base}/api/v1/activations/{started['id']}", token)
        people = [p["status"] for node in view["nodes"] for p in node["people"]]
        assert people == ["acknowledged"] * len(numbers), people
        assert view["status"] == "completed"
        assert sandbox.calls_to() == {}, "someone who replied during the outage was escalated"
        assert _replies(url) == len(numbers), "a replayed reply was applied twice"
        wait_for(lambda: _sending(url) == 0, 30, "no outbox row left sending")
        sent = (sum(sandbox.sms_to().values()), sum(sandbox.calls_to().values()))
        cluster.kill(daemon, signal.SIGTERM)
        spool = tmp_path / "var" / f"webhooks-{daemon.port}.spool"
        assert spool.exists() and spool.stat().st_size == 0, "the spool was not drained"
        again = cluster.start_daemon("a", port=daemon.port)
        time.sleep(3)
        assert again.alive()
        assert (sum(sandbox.sms_to().values()), sum(sandbox.calls_to().values())) == sent == (len(numbers), 0)
    finally:
        cluster.stop()
        sandbox.stop()
