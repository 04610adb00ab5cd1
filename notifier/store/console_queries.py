"""Read-only queries behind the console's pages (pending escalations, drills).

Small and read-only; activations themselves are read through the engine's views and the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.store.engine_tables import activations, deadlines


@dataclass(frozen=True)
class DeadlineRow:
    key: str
    due_at: datetime


async def next_escalations(conn: AsyncConnection, activation_id: str, limit: int = 5) -> list[DeadlineRow]:
    """The activation's `limit` soonest acknowledgement waits (`ack:<node>/<person>`; not the time
    limit, which the page shows apart). Only those rows are read: a 50,000-person broadcast has as
    many deadlines, and the live page renders up to five times a second."""
    query = (
        select(deadlines.c.key, deadlines.c.due_at)
        .where(deadlines.c.activation_id == activation_id, deadlines.c.key.startswith("ack:"))
        .order_by(deadlines.c.due_at)
        .limit(limit)
    )
    result: list[DeadlineRow] = []
    for r in (await conn.execute(query)).all():
        due = as_utc(r.due_at)
        assert due is not None
        result.append(DeadlineRow(key=r.key, due_at=due))
    return result


async def drill_ids(conn: AsyncConnection, limit: int = 50) -> list[str]:
    """Ids of the latest drills (newest first)."""
    query = (
        select(activations.c.id)
        .where(activations.c.kind == "drill")
        .order_by(activations.c.started_at.desc())
        .limit(limit)
    )
    return [str(i) for i in (await conn.execute(query)).scalars()]
