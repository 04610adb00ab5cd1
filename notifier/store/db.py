"""Engines, sessions and schema migrations for SQLite (embedded default) and PostgreSQL.

SQLite gets WAL (readers never block the writer), foreign keys (off by default in SQLite) and a
busy timeout (a second writer waits instead of failing at once). Alembic is synchronous; we run it
on an async connection through `run_sync`, so one code path serves the CLI, the daemon and tests.
Any URL shown to a person goes through `redact` so that passwords never reach a terminal or log.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from notifier.store import sqlite_driver

if TYPE_CHECKING:  # Alembic is imported where migrations are handled: every CLI start-up pays less
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class NotMigrated(RuntimeError):
    """The database has no schema, or not the revision this code needs."""


def async_url(url: str | URL) -> URL:
    """The URL with its async driver: `sqlite:///x.db` and `postgresql://...` are accepted too."""
    parsed = make_url(url) if isinstance(url, str) else url
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def redact(url: str | URL) -> str:
    """The URL as it may be shown to a person: the password is replaced by ***."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def is_sqlite(url: str | URL) -> bool:
    return async_url(url).get_backend_name() == "sqlite"


#: PostgreSQL connections kept open per engine, and how many more may be opened for a burst
POOL_SIZE = 20
POOL_OVERFLOW = 20


class EncodedJSON:
    """A document already encoded as JSON text (e.g. by pydantic's `model_dump_json`, several
    times faster than `model_dump` + `json.dumps` for a 50,000-person snapshot): a JSON column
    stores the text as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _json_serializer(value: Any) -> str:
    return value.text if isinstance(value, EncodedJSON) else json.dumps(value)


def make_engine(url: str | URL, *, sqlite_begin_immediate: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; for a SQLite file, its directory is created if missing.

    By default the SQLite driver starts a transaction only at the first write, so the reads before
    it are not isolated. `sqlite_begin_immediate=True` makes every transaction `BEGIN IMMEDIATE`:
    read-then-write steps become atomic and wait (busy_timeout) instead of failing on a conflict,
    at the price of serialising all transactions. PostgreSQL ignores the flag.
    """
    parsed = async_url(url)
    kwargs.setdefault("json_serializer", _json_serializer)
    if parsed.get_backend_name() != "sqlite":
        # a busy daemon has a dozen connections in use at once (webhooks reading receipts and
        # contacts, steps, the dispatcher, the deadline waiter); with SQLAlchemy's default pool of 5
        # every one past the fifth was opened and closed again per use (hundreds of connects a
        # minute, each a TCP and TLS handshake and a backend start: seconds of added latency)
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        return create_async_engine(parsed, pool_pre_ping=True, **kwargs)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_driver_name() == "aiosqlite":  # one thread round trip per statement, not four
        event.listen(engine.sync_engine, "do_connect", sqlite_driver.on_connect)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    if sqlite_begin_immediate:
        event.listen(engine.sync_engine, "connect", _sqlite_manual_transactions)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver no longer emits BEGIN itself


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed data
    finally:
        cursor.close()


async def reachable(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(select(1))
    except Exception:
        return False
    return True


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (we return plain data, not live objects)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration built in code: no alembic.ini and no particular cwd needed."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = async_url(url)
    return config


def head_revisions() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def _current_revisions(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions recorded in the database (empty when it has no schema)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revisions)


async def check_migrated(engine: AsyncEngine) -> None:
    """Raise `NotMigrated`, naming the command to run, unless the schema is at the code's head."""
    current, heads = await current_revisions(engine), head_revisions()
    if set(current) == set(heads):
        return
    where = f"the database at {redact(engine.url)}"
    if not current:
        state = "has no schema"
    else:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config())
        if any(not _knows(script, rev) for rev in current):
            raise NotMigrated(
                f"{where} is at revision {', '.join(current)}, newer than this version of notifier knows "
                f"(head {', '.join(heads)}); upgrade notifier"
            )
        state = f"is at revision {', '.join(current)}, the code needs {', '.join(heads)}"
    raise NotMigrated(f"{where} {state}; run: notifier db upgrade")


def _knows(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds of error for an unknown revision
        return False


def _run_upgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_async(url: str | URL | AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (inside a running event loop: daemon, tests)."""
    engine = url if isinstance(url, AsyncEngine) else make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_upgrade, alembic_config(engine.url), revision)
    finally:
        if engine is not url:
            await engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Apply migrations up to `revision` from synchronous code (the CLI)."""
    asyncio.run(upgrade_async(url, revision))
