"""SQL for activations: lock and load one, write its state (journal and checkpoints), its
deadlines and its activity log, and the small lookups around them.

Plain SQLAlchemy Core over an `AsyncConnection` that the caller opened in a transaction: nothing here
commits. `FOR UPDATE [SKIP LOCKED]` is used where the dialect has it (PostgreSQL); on SQLite the
engine serialises its own write steps instead (one writer per database file anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.domain.state import START_KEY
from notifier.domain.statedelta import apply_delta
from notifier.store.batching import chunks as _chunks
from notifier.store.db import EncodedJSON
from notifier.store.engine_tables import (
    activation_changes,
    activation_documents,
    activations,
    activity_log,
    deadlines,
    outbox,
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


# The statements of every step, built once: SQLAlchemy then finds their compiled form by a cache
# key it has memoised on the statement, instead of building and hashing a new statement each time.
_LOCK = select(*_LIGHT).where(activations.c.id == bindparam("b_id")).with_for_update()
_APPEND = insert(activation_changes)
#: the SET clause follows the parameters given (status, updated_at, revision, and any extra)
_MOVE = update(activations).where(activations.c.id == bindparam("b_id"))


async def lock_activation(conn: AsyncConnection, activation_id: str) -> Any:
    """Lock the row and read its small columns; the big JSON documents are read only when needed."""
    return (await conn.execute(_LOCK, {"b_id": activation_id})).first()


async def insert_activation(
    conn: AsyncConnection,
    values: dict[str, Any],
    snapshot: dict[str, Any] | EncodedJSON,
    state: dict[str, Any] | EncodedJSON,
) -> None:
    await conn.execute(insert(activations).values(**values))
    # the documents as parameters: a value written into the statement (.values) stays referenced
    # by SQLAlchemy's compiled-statement cache for as long as the process lives (the first
    # 50,000-person snapshot and state: tens of MB)
    await conn.execute(
        insert(activation_documents), {"activation_id": values["id"], "snapshot": snapshot, "state": state}
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
    conn: AsyncConnection,
    activation_id: str,
    state: dict[str, Any] | EncodedJSON,
    status: str,
    now: datetime,
    **extra: Any,
) -> None:
    """A checkpoint: the whole state replaces the last one and the journal is emptied."""
    await conn.execute(delete(activation_changes).where(activation_changes.c.activation_id == activation_id))
    await conn.execute(  # as parameters, not kept by the statement cache (see insert_activation)
        update(activation_documents)
        .where(activation_documents.c.activation_id == bindparam("document_id"))
        .values(state=bindparam("new_state", type_=activation_documents.c.state.type)),
        {"document_id": activation_id, "new_state": state},
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
    await conn.execute(_APPEND, {"activation_id": activation_id, "seq": revision, "delta": delta})
    await conn.execute(
        _MOVE, {"b_id": activation_id, "status": status, "updated_at": now, "revision": revision, **extra}
    )


async def upsert_deadlines(
    conn: AsyncConnection, activation_id: str, items: Sequence[tuple[str, datetime, int]]
) -> None:
    """Replace the deadline of each key: a key has at most one pending deadline, guarded by its fence."""
    if not items:
        return
    await delete_deadlines(conn, activation_id, [key for key, _, _ in items])
    await insert_deadlines(conn, activation_id, items)


async def insert_deadlines(
    conn: AsyncConnection, activation_id: str, items: Sequence[tuple[str, datetime, int]]
) -> None:
    """New deadlines, for keys that have none pending (deleted before, or a new activation's)."""
    if items:
        rows = [{"activation_id": activation_id, "key": k, "due_at": due, "fence": f} for k, due, f in items]
        await conn.execute(insert(deadlines), rows)


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
    """Delete the deadlines that fired, but only where the row still carries the fence that fired.
    Keys are deleted by fence, `key IN (...)` per fence: a `(key, fence) IN (...)` list is no index
    lookup on PostgreSQL (5,000 of a 40,000-deadline activation took 3.5 s, as long as 5,000 keyed
    single deletes; by fence 0.1 s), and the fences of one step are few."""
    by_fence: dict[int, list[str]] = {}
    for key, fence in items:
        by_fence.setdefault(fence, []).append(key)
    for fence, keys in by_fence.items():
        for chunk in _chunks(keys):
            await conn.execute(
                delete(deadlines).where(
                    and_(
                        deadlines.c.activation_id == activation_id,
                        deadlines.c.fence == fence,
                        deadlines.c.key.in_(chunk),
                    )
                )
            )


_LOG = insert(activity_log)


async def insert_log(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_LOG, list(rows))


async def next_deadline(conn: AsyncConnection) -> datetime | None:
    return as_utc((await conn.execute(select(func.min(deadlines.c.due_at)))).scalar())


async def starts_under_way(conn: AsyncConnection) -> bool:
    """Does a large start still have chunks to notify (its `start` deadline is pending)?"""
    query = select(deadlines.c.activation_id).where(deadlines.c.key == START_KEY).limit(1)
    return (await conn.execute(query)).first() is not None


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


async def list_activations(conn: AsyncConnection, status: str | None, limit: int) -> list[Any]:
    """The newest activations' small columns (in `status`, if given), newest first."""
    query = select(
        activations.c.id,
        activations.c.ref,
        activations.c.tree_id,
        activations.c.kind,
        activations.c.status,
        activations.c.started_at,
        activations.c.started_by,
        activations.c.completed_at,
    ).order_by(activations.c.started_at.desc())
    if status:
        query = query.where(activations.c.status == status)
    return list((await conn.execute(query.limit(limit))).all())


async def open_refs(conn: AsyncConnection, among: Sequence[str] | None = None) -> set[str]:
    """The reference codes of every open activation (`among`: only those of these codes)."""
    query = select(activations.c.ref).where(activations.c.status == "open")
    if among is not None:
        query = query.where(activations.c.ref.in_(list(among)))
    return set((await conn.execute(query)).scalars())
