"""SQL for the outbox: write the messages a step queues, claim them for sending, record results.

Plain SQLAlchemy Core over an `AsyncConnection` that the caller opened in a transaction: nothing here
commits. `FOR UPDATE SKIP LOCKED` is used where the dialect has it (PostgreSQL); on SQLite the
engine serialises its own write steps instead (one writer per database file anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.store.batching import chunks as _chunks
from notifier.store.engine_tables import activations, opt_outs, outbox


@dataclass(frozen=True)
class OutboxRow:
    id: int
    activation_id: str
    attempt_id: str
    person_id: str
    channel: str
    address: str
    message_kind: str
    message: dict[str, Any]
    tries: int
    #: when it became sendable: it cannot have reached a provider before (None: not read)
    not_before: datetime | None = None
    tracked: bool = True  # False: no planner waits for its outcome (informed posts, upkeep messages)


def _outbox_row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        activation_id=row.activation_id or "",  # "": a message outside any activation
        attempt_id=row.attempt_id,
        person_id=row.person_id,
        channel=row.channel,
        address=row.address,
        message_kind=row.message_kind,
        message=row.message,
        tries=row.tries,
        not_before=as_utc(row.not_before),
        tracked=bool(row.tracked),
    )


async def insert_outbox(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(outbox), list(rows))


async def insert_outbox_returning_ids(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert and return the new ids in the order of `rows`."""
    if not rows:
        return []
    statement = insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
    return [int(i) for i in (await conn.execute(statement, list(rows))).scalars()]


async def claim_outbox(
    conn: AsyncConnection,
    now: datetime,
    limit: int,
    worker: str,
    lease: timedelta,
    *,
    held: Sequence[str] = (),
) -> list[OutboxRow]:
    """Mark up to `limit` ready rows as being sent by `worker` and return them, oldest first; rows of
    `held` channels (every provider of theirs is failing) stay queued."""
    condition = and_(outbox.c.status == "pending", outbox.c.not_before <= now)
    if held:
        condition = and_(condition, outbox.c.channel.not_in(list(held)))
    ready = (
        select(outbox.c.id)
        .where(condition)
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await conn.execute(ready)).scalars())
    if not ids:
        return []
    return await _claim(conn, ids, worker, now, lease)


async def _claim(
    conn: AsyncConnection, ids: list[int], worker: str, now: datetime, lease: timedelta
) -> list[OutboxRow]:
    """Mark the rows `ids` as being sent by `worker` (leased until `now + lease`, one try more) and
    read them back, oldest first: the end of every claim of queued rows."""
    await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(status="sending", claimed_by=worker, lease_until=now + lease, tries=outbox.c.tries + 1)
    )
    rows = (await conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))).all()
    return [_outbox_row(r) for r in rows]


async def renew_leases(conn: AsyncConnection, worker: str, until: datetime) -> None:
    await conn.execute(
        update(outbox)
        .where(and_(outbox.c.status == "sending", outbox.c.claimed_by == worker))
        .values(lease_until=until)
    )


async def take_over_in_flight(
    conn: AsyncConnection,
    now: datetime,
    worker: str,
    lease: timedelta,
    *,
    every_other: bool = False,
    limit: int = 1000,
) -> list[OutboxRow]:
    """Claim for `worker` the rows left `sending` by an instance that died: those whose lease ran
    out, or (`every_other`, at start-up on SQLite where only one instance runs) every row another
    incarnation claimed. They stay `sending`: whether they reached the provider is unknown, and
    the dispatcher asks the provider before it sends any of them again (`Dispatcher._reconcile`)."""
    stale = outbox.c.lease_until < now
    if every_other:
        stale = stale | (outbox.c.claimed_by != worker) | outbox.c.claimed_by.is_(None)
    orphans = (
        select(outbox.c.id)
        .where(and_(outbox.c.status == "sending", outbox.c.claimed_by.is_distinct_from(worker), stale))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await conn.execute(orphans)).scalars())
    if not ids:
        return []
    await conn.execute(
        update(outbox).where(outbox.c.id.in_(ids)).values(claimed_by=worker, lease_until=now + lease)
    )
    rows = (await conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))).all()
    return [_outbox_row(r) for r in rows]


async def requeue(conn: AsyncConnection, ids: Sequence[int], worker: str) -> None:
    """Put rows `worker` holds back in the queue, to be sent (again): the provider does not have
    them, or cannot say (then a resend may duplicate, bounded by the in-flight window)."""
    for chunk in _chunks(list(ids)):
        await conn.execute(
            update(outbox)
            .where(and_(outbox.c.id.in_(chunk), outbox.c.status == "sending", outbox.c.claimed_by == worker))
            .values(status="pending", lease_until=None, claimed_by=None)
        )


async def known_provider_ids(conn: AsyncConnection, provider_ids: Sequence[str]) -> set[str]:
    """Which of these provider ids (SIDs) an outbox row already records."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(provider_ids))):
        query = select(outbox.c.provider_id).where(outbox.c.provider_id.in_(chunk))
        found.update(str(v) for v in (await conn.execute(query)).scalars())
    return found


async def sending_ids(conn: AsyncConnection, worker: str) -> list[int]:
    """Rows `worker` holds in flight, as the store sees them."""
    query = select(outbox.c.id).where(and_(outbox.c.status == "sending", outbox.c.claimed_by == worker))
    return [int(i) for i in (await conn.execute(query)).scalars()]


async def rows_by_id(conn: AsyncConnection, ids: Sequence[int]) -> list[OutboxRow]:
    """Rows still `sending`, by id, oldest first."""
    found: list[OutboxRow] = []
    for chunk in _chunks(list(ids)):
        query = select(outbox).where(and_(outbox.c.id.in_(chunk), outbox.c.status == "sending"))
        found.extend(_outbox_row(r) for r in (await conn.execute(query.order_by(outbox.c.id))).all())
    return found


async def sending_count(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.status == "sending")
    return int((await conn.execute(query)).scalar_one())


async def finish_outbox_many(conn: AsyncConnection, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Record send results: one executemany per shape of update instead of one statement per row."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in updates:
        shapes.setdefault(tuple(sorted(values)), []).append({"row_id": row_id, **values})
    for keys, params in shapes.items():
        statement = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values({key: bindparam(key) for key in keys})
        )
        await conn.execute(statement, params)


async def withdraw_outbox(conn: AsyncConnection, activation_id: str, attempt_ids: Sequence[str]) -> int:
    """Take queued rows out of the queue (their message stopped mattering); rows a sender has
    already claimed are left to finish. Returns how many were withdrawn."""
    withdrawn = 0
    for chunk in _chunks(list(attempt_ids)):
        result = await conn.execute(
            update(outbox)
            .where(
                and_(
                    outbox.c.activation_id == activation_id,
                    outbox.c.attempt_id.in_(chunk),
                    outbox.c.status == "pending",
                )
            )
            .values(status="withdrawn", lease_until=None, claimed_by=None)
        )
        withdrawn += int(result.rowcount or 0)
    return withdrawn


async def withdraw_claimed(conn: AsyncConnection, row_id: int, worker: str) -> None:
    """A row this worker claimed but never handed to the provider, withdrawn meanwhile."""
    await conn.execute(
        update(outbox)
        .where(and_(outbox.c.id == row_id, outbox.c.status == "sending", outbox.c.claimed_by == worker))
        .values(status="withdrawn", lease_until=None, claimed_by=None)
    )


async def next_outbox_time(conn: AsyncConnection) -> datetime | None:
    query = select(func.min(outbox.c.not_before)).where(outbox.c.status == "pending")
    return as_utc((await conn.execute(query)).scalar())


async def find_outbox(conn: AsyncConnection, activation_id: str, attempt_id: str) -> OutboxRow | None:
    query = select(outbox).where(
        and_(outbox.c.activation_id == activation_id, outbox.c.attempt_id == attempt_id)
    )
    row = (await conn.execute(query)).first()
    return _outbox_row(row) if row else None


async def opted_out_among(conn: AsyncConnection, addresses: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(addresses))):
        found.update(
            (await conn.execute(select(opt_outs.c.address).where(opt_outs.c.address.in_(chunk)))).scalars()
        )
    return found


async def set_opt_out(conn: AsyncConnection, address: str, opted_out: bool, now: datetime) -> None:
    await conn.execute(delete(opt_outs).where(opt_outs.c.address == address))
    if opted_out:
        await conn.execute(insert(opt_outs).values(address=address, opted_out_at=now))


async def claim_bundle_mates(
    conn: AsyncConnection,
    anchors: Sequence[OutboxRow],
    kinds: Iterable[str],
    now: datetime,
    worker: str,
    lease: timedelta,
) -> list[OutboxRow]:
    """Claim the SMS pages (`kinds`) still waiting for the numbers of `anchors` from other open
    activations, whenever they are due: they go out with the anchor as one SMS."""
    addresses = sorted({row.address for row in anchors})
    if not addresses:
        return []
    waiting = (
        select(outbox.c.id)
        .join(activations, activations.c.id == outbox.c.activation_id)
        .where(
            and_(
                outbox.c.status == "pending",
                outbox.c.channel == "sms",
                outbox.c.message_kind.in_(list(kinds)),
                outbox.c.address.in_(addresses),
                activations.c.status == "open",
            )
        )
        .order_by(outbox.c.id)
        .with_for_update(skip_locked=True)
    )
    ids = list((await conn.execute(waiting)).scalars())
    if not ids:
        return []
    return await _claim(conn, ids, worker, now, lease)


async def set_messages(conn: AsyncConnection, messages: dict[int, dict[str, Any]]) -> None:
    """Replace the stored message of outbox rows (what a bundled SMS really said)."""
    for row_id, message in messages.items():
        await conn.execute(update(outbox).where(outbox.c.id == row_id).values(message=message))


async def last_sms_bundle(conn: AsyncConnection, address: str) -> list[str]:
    """The refs the last SMS sent to `address` listed, when it was a bundle (else [])."""
    row = (
        await conn.execute(
            select(outbox.c.message)
            .where(and_(outbox.c.address == address, outbox.c.channel == "sms", outbox.c.status != "pending"))
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
    ).first()
    bundle = row[0].get("bundle") if row is not None and isinstance(row[0], dict) else None
    return [str(ref) for ref in bundle] if isinstance(bundle, list) else []


async def any_queued(conn: AsyncConnection) -> bool:
    """Whether any row waits to be sent or is being sent."""
    query = select(outbox.c.id).where(outbox.c.status.in_(["pending", "sending"])).limit(1)
    return (await conn.execute(query)).first() is not None
