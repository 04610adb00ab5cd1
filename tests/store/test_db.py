"""Engines and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.store.db import (
    NotMigrated,
    async_url,
    check_migrated,
    current_revisions,
    head_revisions,
    make_engine,
    redact,
    upgrade,
    upgrade_async,
)


async def test_fresh_database_is_refused_with_the_command_to_run(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(NotMigrated, match=r"has no schema; run: notifier db upgrade"):
            await check_migrated(engine)
    finally:
        await engine.dispose()


async def test_upgrade_reaches_head_and_is_idempotent(db_url: str) -> None:
    await upgrade_async(db_url)
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        await check_migrated(engine)
        assert set(await current_revisions(engine)) == set(head_revisions())
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM plan_versions"))).scalar_one()
        assert count == 0
    finally:
        await engine.dispose()


async def test_database_behind_head_names_both_revisions(db_url: str) -> None:
    await upgrade_async(db_url, "0001_plan")
    engine = make_engine(db_url)
    try:
        if head_revisions() == ("0001_plan",):
            await check_migrated(engine)  # nothing newer exists yet: at head
            return
        expected = r"is at revision 0001_plan, the code needs .*; run: notifier db upgrade"
        with pytest.raises(NotMigrated, match=expected):
            await check_migrated(engine)
    finally:
        await engine.dispose()


async def test_database_from_a_newer_notifier_says_so(db_url: str) -> None:
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(NotMigrated, match=r"9999_future, newer than this version of notifier knows"):
            await check_migrated(engine)
    finally:
        await engine.dispose()


async def test_sqlite_pragmas_are_applied(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'n.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 10_000
    finally:
        await engine.dispose()
    assert (tmp_path / "sub" / "dir" / "n.db").exists()


def test_sync_upgrade_from_plain_sqlite_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    upgrade(url)
    assert (tmp_path / "plain.db").stat().st_size > 0


def test_urls_get_async_drivers_and_lose_passwords() -> None:
    assert async_url("postgresql://u:pw@db.example.org/n").drivername == "postgresql+asyncpg"
    assert async_url("sqlite:///var/notifier.db").drivername == "sqlite+aiosqlite"
    shown = redact("postgresql+asyncpg://notifier:s3cret@db.example.org:5432/notifier")
    assert "s3cret" not in shown and "***" in shown


async def test_sqlite_begin_immediate_makes_read_then_write_atomic(tmp_path: Path) -> None:
    """Two tasks read a counter and write it back +1; with BEGIN IMMEDIATE no increment is lost."""
    import asyncio

    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_begin_immediate=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await conn.execute(text("INSERT INTO counter VALUES (0)"))

        async def bump() -> None:
            async with engine.begin() as conn:
                n = (await conn.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.01)  # let the other task read in between, if it could
                await conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(bump() for _ in range(5)))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT n FROM counter"))).scalar_one() == 5
    finally:
        await engine.dispose()
