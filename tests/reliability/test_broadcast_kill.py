"""Issue 12: kill -9 in the middle of a broadcast duplicates nothing the provider can account for.

Each trial starts a broadcast (one SMS each, no replies) on a real `notifier serve`, kills it with
SIGKILL once a random share of the SMS has gone out, and releases a warm spare on the same port
and database. The spare takes over the rows the dead daemon left `sending`, asks the provider (the
sandbox's Messages list, through the twilio SDK) which of them it created, records those as sent
and sends only the others. Then every person must have exactly one SMS (0 lost; duplicates only
where the provider had not yet created a message that the dead daemon had sent, never more than
the in-flight window), and no row may be left `sending`.

On SQLite the spare takes the rows over at start-up; on PostgreSQL (where other live instances
may hold rows) only once their lease has run out. CI runs `TRIALS_SHORT` trials of
`PEOPLE_SHORT` on each store; `pytest -m long` runs the issue's figures (`TRIALS_LONG` of
`PEOPLE_LONG`) and writes them to `bench/RELIABILITY.md`.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from notifier.store.db import make_engine
from notifier.store.engine_tables import outbox
from tests.reliability.harness import Cluster, SandboxThread, http, numbers_for, wait_for, write_tree
from tests.reliability.results import record

MAX_IN_FLIGHT = 20
TRIALS_SHORT, PEOPLE_SHORT = 2, 300  # per store, to keep CI short (-m long: the full size)
TRIALS_LONG, PEOPLE_LONG = 10, 2000


@dataclass
class Trial:
    killed_after: int  # SMS the sandbox had received when the daemon was killed
    lost: int
    duplicates: int
    left_sending: int
    recovery_seconds: float  # kill -> every person has their SMS


def _outbox_status(database_url: str, activation_id: str) -> dict[str, int]:
    """Outbox rows of the activation by status, read with the store's own engine."""

    async def read() -> dict[str, int]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(outbox.c.status, func.count())
                    .where(outbox.c.activation_id == activation_id)
                    .group_by(outbox.c.status)
                )
                return {str(status): int(count) for status, count in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _trial(cluster: Cluster, token: str, rng: random.Random, numbers: list[str]) -> Trial:
    sandbox = cluster.sandbox
    mark = sandbox.mark()[0]
    daemon = cluster.daemons[-1]
    status, started = http(
        "POST",
        f"{daemon.base}/api/v1/activations",
        token,
        {"tree": "bulk", "kind": "drill", "fields": {"nature": "Broadcast crash trial"}},
    )
    assert status in (200, 201), started
    activation_id = started["id"]
    go = cluster.tmp / f"go-{activation_id}"
    spare = cluster.start_daemon("a", port=daemon.port, wait=False, spare=go)
    kill_at = rng.randint(len(numbers) // 10, len(numbers) * 9 // 10)
    wait_for(lambda: len(sandbox.box.messages) - mark >= kill_at, 120, f"{kill_at} SMS to go out", 0.005)
    cluster.kill(daemon)
    killed_after = len(sandbox.box.messages) - mark
    t0 = time.monotonic()
    go.touch()
    cluster.wait_healthy(spare, timeout=60)

    def everyone() -> bool:
        return len(set(sandbox.sms_to(mark)) & set(numbers)) == len(numbers)

    wait_for(everyone, 180, f"every SMS after a kill at {killed_after}")
    recovery = time.monotonic() - t0
    wait_for(
        lambda: set(_outbox_status(cluster.database_url, activation_id)) <= {"sent"},
        60,
        "every outbox row to be recorded as sent",
    )
    time.sleep(0.5)  # a resend still on its way would show now
    sms = sandbox.sms_to(mark)
    code, _ = http(
        "POST", f"{spare.base}/api/v1/activations/{activation_id}/cancel", token, {"reason": "trial"}
    )
    assert code == 200
    return Trial(
        killed_after=killed_after,
        lost=sum(1 for n in numbers if sms[n] == 0),
        duplicates=sum(c - 1 for c in sms.values() if c > 1),
        left_sending=_outbox_status(cluster.database_url, activation_id).get("sending", 0),
        recovery_seconds=recovery,
    )


def _run(tmp_path: Path, database_url: str, trials: int, people: int, seed: int) -> list[Trial]:
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = numbers_for(people)
    write_tree(config, numbers, "[{kind: sms, wait: 1h}]")
    sandbox = SandboxThread()
    cluster = Cluster(tmp_path, config, database_url, sandbox, max_in_flight=MAX_IN_FLIGHT)
    rng = random.Random(seed)
    try:
        (token,) = cluster.prepare("coordinator")
        cluster.start_daemon("a")
        return [_trial(cluster, token, rng, numbers) for _ in range(trials)]
    finally:
        cluster.stop()
        sandbox.stop()


def _check(trials: list[Trial], seed: int, label: str, people: int, store: str) -> None:
    duplicates = [t.duplicates for t in trials]
    if label == "long" or os.environ.get("RELIABILITY_RECORD"):
        recovery = sorted(t.recovery_seconds for t in trials)
        record(
            f"kill -9 during a broadcast ({label}, {store})",
            {
                "store": store,
                "trials": len(trials),
                "seed": seed,
                "people per broadcast": people,
                "max in flight": MAX_IN_FLIGHT,
                "killed after (SMS sent)": ", ".join(str(t.killed_after) for t in trials),
                "lost": sum(t.lost for t in trials),
                "duplicates per trial": ", ".join(map(str, duplicates)),
                "trials with 0 duplicates": sum(1 for d in duplicates if d == 0),
                "rows left sending": sum(t.left_sending for t in trials),
                "kill -> everyone has the SMS, median s": f"{recovery[len(recovery) // 2]:.1f}",
            },
        )
    assert sum(t.lost for t in trials) == 0, f"seed {seed}: lost SMS {trials}"
    assert sum(t.left_sending for t in trials) == 0, f"seed {seed}: rows left sending {trials}"
    assert max(duplicates) <= MAX_IN_FLIGHT, f"seed {seed}: beyond the in-flight window {trials}"
    clean = sum(1 for d in duplicates if d == 0)
    assert clean >= len(trials) - len(trials) // 10, f"seed {seed}: duplicates in too many trials {trials}"


def _store(database_url: str) -> str:
    return "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_during_broadcast_short(tmp_path: Path, db_url: str) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    trials = _run(tmp_path, db_url, TRIALS_SHORT, PEOPLE_SHORT, seed)
    _check(trials, seed, "short", PEOPLE_SHORT, _store(db_url))


@pytest.mark.long
@pytest.mark.postgres
def test_kill_during_broadcast_long(tmp_path: Path, db_url: str) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    trials = _run(tmp_path, db_url, TRIALS_LONG, PEOPLE_LONG, seed)
    _check(trials, seed, "long", PEOPLE_LONG, _store(db_url))
