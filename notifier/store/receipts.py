"""Webhook receipts (`webhook_receipts`): which provider callbacks and replies were applied.

A receipt is keyed by the provider's SID (Twilio `MessageSid` / `CallSid`) and what happened
(`received` for an inbound SMS, the callback status, a keypress). It is inserted in the transaction
that applies the webhook, so it exists exactly when the effect does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.store.engine_tables import webhook_receipts

#: the longest status a receipt keeps (the column's width)
STATUS_WIDTH = 48


async def seen(conn: AsyncConnection, sid: str, status: str) -> bool:
    """True when the webhook (`sid`, `status`) has already been applied."""
    query = select(webhook_receipts.c.provider_sid).where(
        and_(webhook_receipts.c.provider_sid == sid[:64], webhook_receipts.c.status == status[:STATUS_WIDTH])
    )
    return (await conn.execute(query)).first() is not None


async def statuses(conn: AsyncConnection, sids: Collection[str]) -> dict[str, set[str]]:
    """For each of `sids` (cut to the column's width), the statuses applied so far (maybe none)."""
    found: dict[str, set[str]] = {sid[:64]: set() for sid in sids}
    keys = list(found)
    for start in range(0, len(keys), 500):  # bounded IN lists (asyncpg: 32,767 parameters)
        query = select(webhook_receipts.c.provider_sid, webhook_receipts.c.status).where(
            webhook_receipts.c.provider_sid.in_(keys[start : start + 500])
        )
        for sid, status in await conn.execute(query):
            found[str(sid)].add(str(status))
    return found


#: inserts that leave a receipt which exists already as it is (no error), per dialect
_INSERT = {
    "postgresql": pg_insert(webhook_receipts).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(webhook_receipts).on_conflict_do_nothing(),
}


async def add(conn: AsyncConnection, sid: str, status: str, now: datetime) -> None:
    """Record the receipt; a receipt that exists already is left as it is (no error)."""
    await add_many(conn, [(sid, status)], now)


async def add_many(conn: AsyncConnection, keys: Sequence[tuple[str | None, str]], now: datetime) -> None:
    """Record the receipts (provider SID, status) in one statement; those without a SID are
    skipped, those that exist already left as they are (no error)."""
    values = [
        {"provider_sid": sid[:64], "status": status[:STATUS_WIDTH], "received_at": now}
        for sid, status in keys
        if sid
    ]
    if not values:
        return
    statement = _INSERT.get(conn.dialect.name)
    if statement is not None:
        await conn.execute(statement, values)
        return
    for (sid, status), row in zip([k for k in keys if k[0]], values, strict=True):  # pragma: no cover
        if not await seen(conn, str(sid), status):  # (the two supported stores are above)
            await conn.execute(insert(webhook_receipts).values(**row))
