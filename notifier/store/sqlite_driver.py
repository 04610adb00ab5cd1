"""aiosqlite with one thread round trip per statement (SQLite only).

SQLAlchemy's aiosqlite adapter makes four trips to the connection's thread for every statement:
create a cursor, execute, fetch the rows, close the cursor. Each trip is a queue put, a thread
wake-up, a future and a `call_soon_threadsafe` back to the event loop; under load those trips
(140 per new activation) cost more CPU than SQLite itself. `OneTripConnection` keeps aiosqlite's
thread (SQLite still never runs on the event loop, and a busy wait never blocks it) but does the
whole statement in one trip: execute, fetch every row, read `description`, `rowcount` and
`lastrowid`, close the cursor; the adapter then reads those from memory. No server-side cursors
(nothing here streams results): a result is read whole, as the adapter does anyway.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import partial
from typing import Any

import aiosqlite

#: what a statement brings back from the connection's thread
_Outcome = tuple[list[Any] | None, Any, int, int | None]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the statement executed, its rows read and its cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters or [])
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return rows, description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy's adapter uses, one trip per execute."""

    arraysize = 1

    def __init__(self, conn: OneTripConnection) -> None:
        self._conn = conn
        self._rows: list[Any] = []
        self._next = 0
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _go(self, sql: str, parameters: Iterable[Any] | None, many: bool) -> OneTripCursor:
        trip: Any = self._conn._execute  # aiosqlite's own: the call queued on the connection's thread
        rows, self.description, self.rowcount, self.lastrowid = await trip(
            _run, self._conn._conn, sql, parameters, many
        )
        self._rows, self._next = rows or [], 0
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        return await self._go(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        return await self._go(sql, parameters, True)

    async def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        end = self._next + (self.arraysize if size is None else size)
        chunk = self._rows[self._next : end]
        self._next += len(chunk)
        return chunk

    async def fetchall(self) -> list[Any]:
        rest = self._rows[self._next :] if self._next else self._rows
        self._next = len(self._rows)
        return rest

    async def close(self) -> None:
        self._rows, self._next = [], 0


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection (its thread, commit, rollback, close) with `OneTripCursor`s."""

    def cursor(self) -> Any:  # the adapter awaits `cursor.__aenter__()`; no trip needed
        return OneTripCursor(self)


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """Like `aiosqlite.connect`; await it to open the connection on its (daemon) thread."""
    connection = OneTripConnection(partial(sqlite3.connect, str(database), **kwargs), 64)
    connection._thread.daemon = True
    return connection


def on_connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    """SQLAlchemy `do_connect` listener: the dialect's own arguments, our connection class."""
    return dialect.dbapi.connect(*cargs, async_creator_fn=connect, **cparams)
