"""Which instance runs the calendar jobs: one leader per database.

Several instances may share one PostgreSQL database; a quarterly drill must still start once. The
leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own:
PostgreSQL releases it when that connection ends, so a crashed leader cannot keep the lock and
another instance takes over at its next check. SQLite is one site, one instance: always leader.

The `scheduled_runs` unique key (job, fire time) is the second line of defence: even two leaders
for a moment (a network partition) cannot start the same drill twice.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = structlog.get_logger("notifier.leader")

#: advisory lock key: a stable 32-bit number derived from a name, so it documents itself
LOCK_NAME = "notifier.calendar-jobs"


def lock_key(name: str = LOCK_NAME) -> int:
    """A signed 64-bit key for `pg_try_advisory_lock` (crc32 fits comfortably)."""
    return zlib.crc32(name.encode())


class Leadership(Protocol):
    async def is_leader(self) -> bool:
        """True while this instance should run calendar jobs; tries to become leader if not."""
        ...

    async def release(self) -> None: ...


class AlwaysLeader:
    """SQLite: one instance per database file, so it leads."""

    async def is_leader(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLockLeader:
    """PostgreSQL: leader while holding `pg_try_advisory_lock(key)` on a dedicated connection."""

    def __init__(self, engine: AsyncEngine, name: str = LOCK_NAME) -> None:
        self.engine = engine
        self.key = lock_key(name)
        self._conn: AsyncConnection | None = None
        self._held = False

    async def is_leader(self) -> bool:
        try:
            if self._conn is None:
                self._conn = await self.engine.connect()
            if self._held:
                await self._conn.execute(text("SELECT 1"))  # the lock lives as long as this connection
                await self._conn.commit()  # hold no transaction open between checks
                return True
            got = (
                await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            ).scalar()
            await self._conn.commit()  # end the transaction; the session-level lock stays
            self._held = bool(got)
            if self._held:
                log.info("this instance now runs the calendar jobs", lock=self.key)
            return self._held
        except Exception as exc:  # a broken connection: leadership is lost until we reconnect
            if self._held:
                log.warning("lost the calendar-jobs lock", error=type(exc).__name__)
            await self._drop()
            return False

    async def release(self) -> None:
        if self._conn is not None and self._held:
            with contextlib.suppress(Exception):
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await self._conn.commit()
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is None:
            return
        try:
            await conn.close()
        except Exception:  # e.g. cancelled mid-query: discard the connection (the server drops the lock)
            with contextlib.suppress(Exception):
                await conn.invalidate()


def leadership_for(engine: AsyncEngine, name: str = LOCK_NAME) -> Leadership:
    """The right kind of leadership for the database behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeader(engine, name)
    return AlwaysLeader()
