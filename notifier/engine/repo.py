"""SQL for the engine: load and lock an activation, write the planner's actions, claim work.

Plain SQLAlchemy Core over an `AsyncConnection` that the caller opened in a transaction: nothing here
commits. `FOR UPDATE [SKIP LOCKED]` is used where the dialect has it (PostgreSQL); on SQLite the
engine serialises its own write steps instead (one writer per database file anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.domain.statedelta import apply_delta
from notifier.store.engine_tables import (
    activation_changes,
    activation_documents,
    activations,
    activity_log,
    deadlines,
    opt_outs,
    outbox,
)


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


_LIGHT = (
    activations.c.id,
    activations.c.ref,
    activations.c.status,
    activations.c.revision,
    activations.c.fields,
    activations.c.completed_at,
    activations.c.closed_at,
)


async def lock_activation(conn: AsyncConnection, activation_id: str) -> Any:
    """Lock the row and read its small columns; the big JSON documents are read only when needed."""
    query = select(*_LIGHT).where(activations.c.id == activation_id).with_for_update()
    return (await conn.execute(query)).first()


async def insert_activation(
    conn: AsyncConnection, values: dict[str, Any], snapshot: dict[str, Any], state: dict[str, Any]
) -> None:
    await conn.execute(insert(activations).values(**values))
    await conn.execute(
        insert(activation_documents).values(activation_id=values["id"], snapshot=snapshot, state=state)
    )


async def load_activation_documents(conn: AsyncConnection, activation_id: str) -> Any:
    query = select(activation_documents.c.snapshot, activation_documents.c.state).where(
        activation_documents.c.activation_id == activation_id
    )
    return (await conn.execute(query)).one()


async def load_changes(conn: AsyncConnection, activation_id: str) -> list[dict[str, Any]]:
    """The state journal since the last checkpoint, oldest first."""
    query = (
        select(activation_changes.c.delta)
        .where(activation_changes.c.activation_id == activation_id)
        .order_by(activation_changes.c.seq)
    )
    return list((await conn.execute(query)).scalars())


async def current_state(
    conn: AsyncConnection, activation_id: str, checkpoint: dict[str, Any]
) -> dict[str, Any]:
    """The activation's state document now: the checkpoint with the journal applied."""
    document = dict(checkpoint)
    for delta in await load_changes(conn, activation_id):
        apply_delta(document, delta)
    return document


async def load_activation_row(conn: AsyncConnection, activation_id: str) -> Any:
    """The activation row with its `snapshot` and its current `state` (checkpoint + journal).

    `activation_id` may also be a reference code (as in the SMS, "K7Q"): the newest activation
    with that ref (refs are unique among open activations, and reused later)."""
    row = (await conn.execute(select(activations).where(activations.c.id == activation_id))).first()
    if row is None and 0 < len(activation_id) <= 8:
        row = (
            await conn.execute(
                select(activations)
                .where(activations.c.ref == activation_id.strip().upper())
                .order_by(activations.c.started_at.desc())
                .limit(1)
            )
        ).first()
    return None if row is None else await with_current_state(conn, row)


async def with_current_state(conn: AsyncConnection, row: Any) -> Any:
    """`row` (of `activations`) with `snapshot` and the current `state`, for readers."""
    documents = await load_activation_documents(conn, row.id)
    values = dict(row._mapping)
    values["snapshot"] = documents.snapshot
    values["state"] = await current_state(conn, row.id, documents.state)
    return SimpleNamespace(**values)


async def save_state(
    conn: AsyncConnection, activation_id: str, state: dict[str, Any], status: str, now: datetime, **extra: Any
) -> None:
    """A checkpoint: the whole state replaces the last one and the journal is emptied."""
    await conn.execute(delete(activation_changes).where(activation_changes.c.activation_id == activation_id))
    await conn.execute(
        update(activation_documents)
        .where(activation_documents.c.activation_id == activation_id)
        .values(state=state)
    )
    await conn.execute(
        update(activations)
        .where(activations.c.id == activation_id)
        .values(status=status, updated_at=now, revision=activations.c.revision + 1, **extra)
    )


async def append_change(
    conn: AsyncConnection,
    activation_id: str,
    revision: int,
    delta: dict[str, Any],
    status: str,
    now: datetime,
    **extra: Any,
) -> None:
    """One step's delta: the row moves to `revision`, its state column (the checkpoint) stays."""
    await conn.execute(
        insert(activation_changes).values(activation_id=activation_id, seq=revision, delta=delta)
    )
    await conn.execute(
        update(activations)
        .where(activations.c.id == activation_id)
        .values(status=status, updated_at=now, revision=revision, **extra)
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


async def upsert_deadlines(
    conn: AsyncConnection, activation_id: str, items: Sequence[tuple[str, datetime, int]]
) -> None:
    """Replace the deadline of each key: a key has at most one pending deadline, guarded by its fence."""
    if not items:
        return
    await delete_deadlines(conn, activation_id, [key for key, _, _ in items])
    await conn.execute(
        insert(deadlines),
        [{"activation_id": activation_id, "key": k, "due_at": due, "fence": f} for k, due, f in items],
    )


async def delete_deadlines(conn: AsyncConnection, activation_id: str, keys: Iterable[str]) -> None:
    for chunk in _chunks(list(keys)):
        await conn.execute(
            delete(deadlines).where(
                and_(deadlines.c.activation_id == activation_id, deadlines.c.key.in_(chunk))
            )
        )


async def consume_deadlines(
    conn: AsyncConnection, activation_id: str, items: Sequence[tuple[str, int]]
) -> None:
    """Delete the deadlines that fired, but only where the row still carries the fence that fired."""
    for chunk in _chunks(list(items)):
        await conn.execute(
            delete(deadlines).where(
                and_(
                    deadlines.c.activation_id == activation_id,
                    tuple_(deadlines.c.key, deadlines.c.fence).in_(chunk),
                )
            )
        )


async def insert_log(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(activity_log), list(rows))


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


async def next_deadline(conn: AsyncConnection) -> datetime | None:
    return as_utc((await conn.execute(select(func.min(deadlines.c.due_at)))).scalar())


async def due_deadlines(
    conn: AsyncConnection, now: datetime, limit: int
) -> list[tuple[str, str, int, datetime]]:
    query = (
        select(deadlines.c.activation_id, deadlines.c.key, deadlines.c.fence, deadlines.c.due_at)
        .where(deadlines.c.due_at <= now)
        .order_by(deadlines.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(r[0], r[1], r[2], as_utc(r[3]) or now) for r in (await conn.execute(query)).all()]


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


async def open_contacts(
    conn: AsyncConnection, address: str, status: str = "open"
) -> list[tuple[str, str, str]]:
    """(activation id, ref, person id) of every activation in `status` that messaged `address`."""
    query = (
        select(activations.c.id, activations.c.ref, outbox.c.person_id)
        .join(outbox, outbox.c.activation_id == activations.c.id)
        .where(and_(outbox.c.address == address, activations.c.status == status))
        .distinct()
        .order_by(activations.c.id)
    )
    return [(r[0], r[1], r[2]) for r in (await conn.execute(query)).all()]


async def activation_names(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """activation id -> (ref, what it is about: its message's nature, else its reason, else its tree)."""
    a = activations.c
    query = select(a.id, a.ref, a.fields, a.reason, a.tree_id).where(a.id.in_(list(ids)))
    names: dict[str, tuple[str, str]] = {}
    for activation_id, ref, fields, reason, tree in (await conn.execute(query)).all():
        nature = fields.get("nature") if isinstance(fields, dict) else None
        text = str(nature or reason or tree or "").strip()
        names[activation_id] = (ref, text.splitlines()[0] if text else "")
    return names


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
    await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(status="sending", claimed_by=worker, lease_until=now + lease, tries=outbox.c.tries + 1)
    )
    rows = (await conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))).all()
    return [_outbox_row(r) for r in rows]


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


_CHUNK = 1000


def _chunks(items: list[Any]) -> list[list[Any]]:
    """`IN (...)` lists in pieces: PostgreSQL (asyncpg) takes at most 32,767 parameters per
    statement, and a 50,000-person broadcast's first step deletes and writes 50,000 deadlines."""
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


async def merge_fields(conn: AsyncConnection, activation_id: str, fields: dict[str, str]) -> None:
    """Revised message fields (an update's) replace the activation's: later messages carry them."""
    current = (
        await conn.execute(select(activations.c.fields).where(activations.c.id == activation_id))
    ).scalar_one_or_none()
    merged = {**(current or {}), **fields}
    await conn.execute(update(activations).where(activations.c.id == activation_id).values(fields=merged))


async def started_by(conn: AsyncConnection, who: str) -> str | None:
    """The id of an activation started by `who`, if any."""
    query = select(activations.c.id).where(activations.c.started_by == who).limit(1)
    return (await conn.execute(query)).scalar_one_or_none()


async def completed_questions(conn: AsyncConnection) -> list[str]:
    """Completed invocation questions (their tree ids end in `.invocation`), oldest first."""
    query = (
        select(activations.c.id)
        .where(and_(activations.c.status == "completed", activations.c.tree_id.like("%.invocation")))
        .order_by(activations.c.started_at)
    )
    return list((await conn.execute(query)).scalars())
