"""Read-only queries behind the console's pages (the latest alerts, pending escalations, drills).

Small and read-only; activations themselves are read through the engine's views and the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.store.engine_tables import activations, alerts, deadlines


@dataclass(frozen=True)
class AlertRow:
    received_at: datetime
    source: str
    status: str
    service: str | None
    summary: str
    outcome: str
    activation_id: str | None


@dataclass(frozen=True)
class DeadlineRow:
    key: str
    due_at: datetime


async def latest_alerts(conn: AsyncConnection, limit: int = 20) -> list[AlertRow]:
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    rows: list[AlertRow] = []
    for r in (await conn.execute(query)).all():
        payload: dict[str, Any] = r.payload if isinstance(r.payload, dict) else {}
        received = as_utc(r.received_at)
        assert received is not None
        rows.append(
            AlertRow(
                received_at=received,
                source=r.source,
                status=r.status,
                service=r.service,
                summary=str(payload.get("summary", "")),
                outcome=r.outcome or "",
                activation_id=r.activation_id,
            )
        )
    return rows


async def pending_deadlines(conn: AsyncConnection, activation_id: str) -> list[DeadlineRow]:
    """The activation's pending deadlines, soonest first."""
    query = (
        select(deadlines.c.key, deadlines.c.due_at)
        .where(deadlines.c.activation_id == activation_id)
        .order_by(deadlines.c.due_at)
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
