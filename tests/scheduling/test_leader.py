"""One leader per database: a real PostgreSQL advisory lock, handed over when the leader goes."""

from __future__ import annotations

from notifier.store.db import make_engine
from notifier.store.leader import AdvisoryLockLeader, AlwaysLeader, leadership_for, lock_key
from tests.conftest import PostgresServer


async def test_only_one_instance_leads_and_leadership_moves_on_release(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("leader_handover")
    first_engine, second_engine = make_engine(url), make_engine(url)
    first, second = leadership_for(first_engine), leadership_for(second_engine)
    try:
        assert isinstance(first, AdvisoryLockLeader)
        assert await first.is_leader()
        assert not await second.is_leader()
        assert await first.is_leader()  # still held on the same connection
        await first.release()
        assert await second.is_leader()
        assert not await first.is_leader()
    finally:
        await first.release()
        await second.release()
        await first_engine.dispose()
        await second_engine.dispose()


async def test_a_dead_leader_connection_frees_the_lock(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("leader_crash")
    first_engine, second_engine = make_engine(url), make_engine(url)
    first, second = AdvisoryLockLeader(first_engine), AdvisoryLockLeader(second_engine)
    try:
        assert await first.is_leader()
        assert not await second.is_leader()
        # the leader's process dies: its connection goes away without an unlock
        await first_engine.dispose()
        assert first._conn is not None
        await first._conn.invalidate()
        assert await second.is_leader()
    finally:
        await second.release()
        await second_engine.dispose()


async def test_sqlite_is_always_leader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        leader = leadership_for(engine)
        assert isinstance(leader, AlwaysLeader)
        assert await leader.is_leader()
    finally:
        await engine.dispose()


def test_lock_key_is_stable_and_fits_bigint() -> None:
    assert lock_key() == lock_key("notifier.calendar-jobs")
    assert 0 <= lock_key() < 2**63


async def test_with_two_instances_on_postgresql_only_the_leader_runs_a_job(
    postgres_server: PostgresServer,
) -> None:
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy import select

    from notifier.clock import ScaledClock
    from notifier.scheduling.scheduler import Job, Scheduler
    from notifier.store.db import upgrade_async
    from notifier.store.upkeep_tables import scheduled_runs

    url = postgres_server.create_database("leader_jobs")
    await upgrade_async(url)
    clock = ScaledClock(600, origin=datetime(2026, 4, 1, 7, 59, tzinfo=UTC))
    engines = [make_engine(url), make_engine(url)]
    runs: list[str] = []

    def action(name: str):  # type: ignore[no-untyped-def]
        async def run(fire_at: datetime) -> str:
            runs.append(name)
            return name

        return run

    leaders = [AdvisoryLockLeader(engine) for engine in engines]
    assert await leaders[0].is_leader()  # the first instance took the lock at start
    schedulers = [
        Scheduler(engine, clock, leader, [Job("drill:q", "0 10 1 1,4,7,10 *", "Europe/Brussels", action(n))])
        for engine, leader, n in zip(engines, leaders, ("first", "second"), strict=True)
    ]
    try:
        for scheduler in schedulers:
            scheduler.start()
        await clock.sleep(150)  # past 08:00 UTC (10:00 CEST)
        for scheduler in schedulers:
            await scheduler.wait_idle()
        assert runs == ["first"]
        assert not await leaders[1].is_leader()
        async with engines[0].connect() as conn:
            rows = (await conn.execute(select(scheduled_runs.c.job, scheduled_runs.c.outcome))).all()
        assert [tuple(r) for r in rows] == [("drill:q", "first")]
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        for engine in engines:
            await engine.dispose()
    await asyncio.sleep(0)
