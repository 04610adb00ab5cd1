"""The calendar loop on a fast clock: fires at the right instant across the DST change, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.clock import ScaledClock
from notifier.scheduling.scheduler import Job, Scheduler
from notifier.store.db import make_engine, upgrade_async
from notifier.store.leader import AlwaysLeader
from notifier.store.upkeep_tables import scheduled_runs

BRUSSELS = "Europe/Brussels"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


class Recorder:
    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.runs: list[tuple[datetime, datetime]] = []
        self.fired = asyncio.Event()

    async def __call__(self, fire_at: datetime) -> str:
        self.runs.append((fire_at, self.clock.now()))
        self.fired.set()
        return "recorded"


async def test_fires_at_three_oclock_local_on_the_night_clocks_go_forward(db: AsyncEngine) -> None:
    # 01:50 CET on 29 March 2026; at 02:00 CET clocks jump to 03:00 CEST (= 01:00 UTC)
    clock = ScaledClock(600, origin=datetime(2026, 3, 29, 0, 50, tzinfo=UTC))
    record = Recorder(clock)
    scheduler = Scheduler(db, clock, AlwaysLeader(), [Job("drill:test", "0 3 * * *", BRUSSELS, record)])
    scheduler.start()
    try:
        await asyncio.wait_for(record.fired.wait(), timeout=10)
    finally:
        await scheduler.stop()
    ((fire_at, ran_at),) = record.runs
    assert fire_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # not 02:00 UTC (03:00 CET)
    assert fire_at <= ran_at < fire_at + timedelta(minutes=2)


async def test_quarterly_drill_fires_at_ten_local_in_summer_time(db: AsyncEngine) -> None:
    clock = ScaledClock(600, origin=datetime(2026, 4, 1, 7, 57, tzinfo=UTC))
    record = Recorder(clock)
    job = Job("drill:quarterly", "0 10 1 1,4,7,10 *", BRUSSELS, record)
    scheduler = Scheduler(db, clock, AlwaysLeader(), [job], misfire_grace=timedelta(minutes=1))
    scheduler.start()
    try:
        await asyncio.wait_for(record.fired.wait(), timeout=10)
    finally:
        await scheduler.stop()
    assert record.runs[0][0] == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert job.next_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


async def test_a_heads_up_fires_its_lead_before_the_drill(db: AsyncEngine) -> None:
    clock = ScaledClock(600, origin=datetime(2026, 4, 1, 7, 45, tzinfo=UTC))
    record = Recorder(clock)
    job = Job("announce:quarterly", "0 10 1 1,4,7,10 *", BRUSSELS, record, lead=timedelta(minutes=10))
    scheduler = Scheduler(db, clock, AlwaysLeader(), [job], misfire_grace=timedelta(minutes=1))
    scheduler.start()
    try:
        await asyncio.wait_for(record.fired.wait(), timeout=10)
    finally:
        await scheduler.stop()
    assert record.runs[0][0] == datetime(2026, 4, 1, 7, 50, tzinfo=UTC)


async def test_two_instances_run_a_fire_once_and_a_restart_does_not_repeat_it(db: AsyncEngine) -> None:
    origin = datetime(2026, 4, 1, 7, 59, 30, tzinfo=UTC)
    clock = ScaledClock(600, origin=origin)
    first, second = Recorder(clock), Recorder(clock)
    schedulers = [
        Scheduler(db, clock, AlwaysLeader(), [Job("drill:q", "0 10 1 1,4,7,10 *", BRUSSELS, rec)])
        for rec in (first, second)
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        await asyncio.wait_for(
            asyncio.wait(
                [asyncio.ensure_future(first.fired.wait()), asyncio.ensure_future(second.fired.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            ),
            timeout=10,
        )
        await clock.sleep(120)
        # a restart ten minutes later, inside the misfire grace: the fire is already claimed
        third = Recorder(clock)
        restarted = Scheduler(
            db, clock, AlwaysLeader(), [Job("drill:q", "0 10 1 1,4,7,10 *", BRUSSELS, third)]
        )
        restarted.start()
        await clock.sleep(120)
        await restarted.stop()
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
    assert len(first.runs) + len(second.runs) == 1
    assert third.runs == []
    async with db.connect() as conn:
        rows = (await conn.execute(select(scheduled_runs))).all()
    assert [(r.job, r.outcome) for r in rows] == [("drill:q", "recorded")]


async def test_a_fire_missed_beyond_the_grace_is_skipped_not_run_late(db: AsyncEngine) -> None:
    clock = ScaledClock(600, origin=datetime(2026, 4, 1, 9, 30, tzinfo=UTC))  # 90 min after the drill time
    record = Recorder(clock)
    scheduler = Scheduler(
        db,
        clock,
        AlwaysLeader(),
        [Job("drill:q", "0 10 1 1,4,7,10 *", BRUSSELS, record)],
        misfire_grace=timedelta(hours=1),
    )
    scheduler.start()
    await clock.sleep(60)
    await scheduler.stop()
    assert record.runs == []


async def test_a_fire_missed_within_the_grace_runs_at_start(db: AsyncEngine) -> None:
    clock = ScaledClock(600, origin=datetime(2026, 4, 1, 8, 20, tzinfo=UTC))  # 20 min late
    record = Recorder(clock)
    scheduler = Scheduler(
        db,
        clock,
        AlwaysLeader(),
        [Job("drill:q", "0 10 1 1,4,7,10 *", BRUSSELS, record)],
        misfire_grace=timedelta(hours=1),
    )
    scheduler.start()
    try:
        await asyncio.wait_for(record.fired.wait(), timeout=5)
    finally:
        await scheduler.stop()
    assert record.runs[0][0] == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
