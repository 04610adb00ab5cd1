"""The SQL of alert intake: stored alerts with their outcome, incidents and their alerts.

Everything here runs inside the caller's transaction. `lock_incident` creates the incident row if
needed and locks it (PostgreSQL `FOR UPDATE`; SQLite has one writer at a time anyway), so two
alerts of one incident key stored at once are decided one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.domain.correlation import IncidentFacts
from notifier.engine.contract import AlertFilter
from notifier.store.engine_tables import activations, activity_log, alerts, incident_alerts, incidents

_ACTIVE = ("open", "completed")


def _upsert(conn: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def lock_incident(conn: AsyncConnection, key: str, route: str, now: datetime) -> Any:
    """The incident row of `key` (created without an activation if new), locked until commit."""
    return (await open_incident(conn, key, route, now))[0]


async def open_incident(conn: AsyncConnection, key: str, route: str, now: datetime) -> tuple[Any, bool]:
    """Like `lock_incident`, and whether the row is new: a row this transaction just inserted is
    not read back (it is ours until commit, and holds what we wrote)."""
    values = {"key": key, "route": route, "activation_id": None, "resolved_at": None, "updated_at": now}
    inserted = await conn.execute(
        _upsert(conn, incidents).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )
    if inserted.rowcount == 1:
        return SimpleNamespace(**values, last_update_at=None), True
    locked = await conn.execute(select(incidents).where(incidents.c.key == key).with_for_update())
    return locked.one(), False


#: what is known about an incident `open_incident` just created: nothing fires, no activation
NEW_INCIDENT = IncidentFacts(
    activation_id=None,
    activation_active=False,
    ended_at=None,
    this_firing=False,
    others_firing=0,
    resolved_at=None,
    last_update_at=None,
)


async def firing_incident_of(conn: AsyncConnection, dedup_key: str) -> str | None:
    """The incident key in which the alert `dedup_key` fires (a resolve finds it whatever route)."""
    return (
        await conn.execute(
            select(incident_alerts.c.incident_key)
            .where(and_(incident_alerts.c.dedup_key == dedup_key, incident_alerts.c.firing == 1))
            .limit(1)
        )
    ).scalar_one_or_none()


async def facts(conn: AsyncConnection, incident: Any, dedup_key: str) -> IncidentFacts:
    """What is known about the locked `incident` when the alert `dedup_key` of it arrives."""
    status = None
    ended_at = None
    if incident.activation_id is not None:
        status = (
            await conn.execute(select(activations.c.status).where(activations.c.id == incident.activation_id))
        ).scalar_one_or_none()
        if status is not None and status not in _ACTIVE:
            ended_at = (
                await conn.execute(
                    select(func.max(activity_log.c.at)).where(
                        and_(
                            activity_log.c.activation_id == incident.activation_id,
                            activity_log.c.step.in_(["cancelled", "closed"]),
                        )
                    )
                )
            ).scalar_one_or_none()
    rows = (
        await conn.execute(
            select(incident_alerts.c.dedup_key).where(
                and_(incident_alerts.c.incident_key == incident.key, incident_alerts.c.firing == 1)
            )
        )
    ).scalars()
    firing = set(rows)
    return IncidentFacts(
        activation_id=incident.activation_id if status is not None else None,
        activation_active=status in _ACTIVE,
        ended_at=as_utc(ended_at),
        this_firing=dedup_key in firing,
        others_firing=len(firing - {dedup_key}),
        resolved_at=as_utc(incident.resolved_at),
        last_update_at=as_utc(incident.last_update_at),
    )


async def mark_alert(conn: AsyncConnection, key: str, dedup_key: str, firing: bool, now: datetime) -> None:
    """Record that `dedup_key` fires (or no longer does) in incident `key`."""
    stmt = _upsert(conn, incident_alerts).values(
        incident_key=key, dedup_key=dedup_key, firing=int(firing), updated_at=now
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["incident_key", "dedup_key"],
            set_={"firing": int(firing), "updated_at": now},
        )
    )


@dataclass(frozen=True)
class IncidentChange:
    """What to write on an incident row; None leaves a column as it is."""

    activation_id: str | None = None
    resolved_at: datetime | None = None
    clear_resolved: bool = False
    last_update_at: datetime | None = None


async def update_incident(conn: AsyncConnection, key: str, now: datetime, change: IncidentChange) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if change.activation_id is not None:
        values["activation_id"] = change.activation_id
    if change.resolved_at is not None:
        values["resolved_at"] = change.resolved_at
    elif change.clear_resolved:
        values["resolved_at"] = None
    if change.last_update_at is not None:
        values["last_update_at"] = change.last_update_at
    await conn.execute(update(incidents).where(incidents.c.key == key).values(**values))


async def incident_for_activation(conn: AsyncConnection, activation_id: str) -> Any:
    return (
        await conn.execute(select(incidents).where(incidents.c.activation_id == activation_id).limit(1))
    ).first()


async def insert_alert(conn: AsyncConnection, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(alerts).values(**values).returning(alerts.c.id))
    return int(result.scalar_one())


async def list_alerts(conn: AsyncConnection, where: AlertFilter) -> list[Any]:
    """Stored alerts, newest first, with the ref of the activation each belongs to."""
    query = (
        select(alerts, activations.c.ref)
        .select_from(alerts.outerjoin(activations, activations.c.id == alerts.c.activation_id))
        .order_by(alerts.c.id.desc())
        .limit(where.limit)
    )
    if where.source:
        query = query.where(alerts.c.source == where.source)
    if where.outcome:
        query = query.where(alerts.c.outcome == where.outcome)
    if where.service:
        query = query.where(func.lower(alerts.c.service) == where.service.lower())
    if where.activation_id:
        query = query.where(alerts.c.activation_id == where.activation_id)
    if where.incident_key:
        query = query.where(alerts.c.incident_key == where.incident_key)
    if where.since:
        query = query.where(alerts.c.received_at >= where.since)
    return list((await conn.execute(query)).all())


async def alert_counts(conn: AsyncConnection, activation_id: str) -> dict[str, int]:
    """How many alerts of each outcome an activation has, and how many of its incident still fire."""
    rows = await conn.execute(
        select(alerts.c.outcome, func.count())
        .where(alerts.c.activation_id == activation_id)
        .group_by(alerts.c.outcome)
    )
    counts = {str(outcome): int(n) for outcome, n in rows}
    incident = await incident_for_activation(conn, activation_id)
    if incident is not None:
        counts["firing"] = int(
            (
                await conn.execute(
                    select(func.count()).where(
                        and_(incident_alerts.c.incident_key == incident.key, incident_alerts.c.firing == 1)
                    )
                )
            ).scalar_one()
        )
    return counts


async def resolution(conn: AsyncConnection, activation_id: str) -> str | None:
    """The activity-log line saying what happened when every alert of the activation resolved."""
    return (
        await conn.execute(
            select(activity_log.c.outcome)
            .where(
                and_(
                    activity_log.c.activation_id == activation_id,
                    activity_log.c.step == "alert resolved",
                    activity_log.c.outcome.like("%every alert of the incident resolved%"),
                )
            )
            .order_by(activity_log.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
