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
