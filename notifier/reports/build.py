"""Load one activation (and the earlier drills of its tree) from the store and render a report.

Read-only SQLAlchemy Core over the engine's tables; everything else is pure (`figures`, `render`,
`activity_log`). Drill trends take earlier *drills* of the same tree only, so that exercise figures
are never averaged with real incidents.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.domain.masking import mask_text
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState
from notifier.reports.activity_log import (
    activity_log_csv,
    activity_log_markdown,
    activity_rows,
    after_action_report,
)
from notifier.reports.figures import compute, summarize
from notifier.reports.model import ActivationRecord, AttemptDelivery, DrillSummary, LogRow
from notifier.reports.render import plot_curve, to_csv, to_html, to_json, to_markdown
from notifier.store.activation_repo import load_activation_row, with_current_state
from notifier.store.engine_tables import activations, activity_log, outbox, responses
from notifier.store.plans import latest_plan, person_fixes_since

#: md, html, csv, json: the report; png: its curve; log / log-md: the NIST activity log (CSV /
#: Markdown); aar: the after-action report skeleton (Markdown)
FORMATS = ("md", "html", "csv", "json", "png", "log", "log-md", "aar")
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "png": "image/png",
    "log": "text/csv; charset=utf-8",
    "log-md": "text/markdown; charset=utf-8",
    "aar": "text/markdown; charset=utf-8",
}
TREND_DEPTH = 12  # earlier drills shown in a trend table


def deliveries(record: ActivationRecord) -> tuple[AttemptDelivery, ...]:
    """Each attempt with the provider that sent it (attempts never sent, e.g. opted out: none)."""
    found = []
    for attempt in record.state.attempts.values():
        provider, detail = record.providers.get(attempt.id, ("", ""))
        if provider:
            found.append(
                AttemptDelivery(
                    attempt_id=attempt.id,
                    person_id=attempt.person,
                    channel=attempt.channel.value,
                    provider=provider,
                    status=attempt.status,
                    detail=detail[:80],
                )
            )
    return tuple(found)


async def load_providers(conn: AsyncConnection, activation_id: str) -> dict[str, tuple[str, str]]:
    query = select(outbox.c.attempt_id, outbox.c.provider, outbox.c.detail).where(
        and_(outbox.c.activation_id == activation_id, outbox.c.provider.is_not(None))
    )
    return {r.attempt_id: (r.provider, mask_text(r.detail or "")) for r in (await conn.execute(query)).all()}


def record_from_row(row: Any) -> ActivationRecord:
    started_at = as_utc(row.started_at)
    assert started_at is not None
    return ActivationRecord(
        id=row.id,
        ref=row.ref,
        tree_id=row.tree_id,
        kind=row.kind,
        status=row.status,
        started_at=started_at,
        started_by=row.started_by,
        reason=row.reason or "",
        snapshot=Snapshot.model_validate(row.snapshot),
        state=ActivationState.model_validate(row.state),
        completed_at=as_utc(row.completed_at),
        closed_at=as_utc(row.closed_at),
        fields=dict(row.fields or {}),
    )


async def load_sent(conn: AsyncConnection, activation_id: str) -> tuple[tuple[str, str, str], ...]:
    """(kind, channel, text) of every message the provider took, for the message counts."""
    query = (
        select(outbox.c.message_kind, outbox.c.channel, outbox.c.message)
        .where(and_(outbox.c.activation_id == activation_id, outbox.c.status == "sent"))
        .order_by(outbox.c.id)
    )
    return tuple(
        (r.message_kind, r.channel, str((r.message or {}).get("text", "")))
        for r in (await conn.execute(query)).all()
    )


async def load_log(conn: AsyncConnection, activation_id: str) -> list[LogRow]:
    """The activity log with the raw responses merged in (what people actually replied). Responses
    come first, so that at the same instant a reply sorts before the acknowledgements it caused."""
    log_query = (
        select(activity_log).where(activity_log.c.activation_id == activation_id).order_by(activity_log.c.id)
    )
    reply_query = select(responses).where(responses.c.activation_id == activation_id).order_by(responses.c.id)
    rows = [
        LogRow(
            at=as_utc(r.received_at) or datetime.now(UTC),
            step="response",
            who=r.person_id,
            outcome=f"{r.channel} reply {r.raw.strip()[:40]!r} read as {r.action}",
        )
        for r in (await conn.execute(reply_query)).all()
    ]
    rows += [
        LogRow(
            at=as_utc(r.at) or datetime.now(UTC),
            step=r.step,
            who=r.who,
            outcome=r.outcome or "",
            problem=r.problem,
        )
        for r in (await conn.execute(log_query)).all()
    ]
    return rows


async def previous_drills(conn: AsyncConnection, record: ActivationRecord) -> list[DrillSummary]:
    """Summaries of the drills of the same tree that started before this one, oldest first."""
    query = (
        select(activations)
        .where(
            and_(
                activations.c.tree_id == record.tree_id,
                activations.c.kind == "drill",
                activations.c.started_at < record.started_at,
                activations.c.id != record.id,
            )
        )
        .order_by(activations.c.started_at.desc())
        .limit(TREND_DEPTH)
    )
    summaries = []
    for row in (await conn.execute(query)).all():
        try:
            earlier = record_from_row(await with_current_state(conn, row))
        except ValidationError:
            continue  # stored by an older version whose snapshot no longer parses: leave it out
        summaries.append(summarize(compute(earlier, [], [])))
    return sorted(summaries, key=lambda s: s.started_at)


async def follow_up(conn: AsyncConnection, record: ActivationRecord) -> tuple[str, dict[str, int]]:
    """Who owns the report's corrective actions (the stored plan's plan-owner role, else its
    coordinator role) and, per person, the first plan version that changed their entry after the
    activation started (the fix of a contact-data action)."""
    plan = await latest_plan(conn)
    owner = ""
    if plan is not None:
        role_id = plan.organisation.plan_owner_role or plan.organisation.coordinator_role
        role = plan.role(role_id) if role_id else None
        owner = role.name if role is not None else ""
    return owner, await person_fixes_since(conn, record.started_at)


async def render_report(conn: AsyncConnection, activation_id: str, fmt: str) -> bytes | None:
    """The report of `activation_id` in `fmt` (see FORMATS); None for an unknown activation or format."""
    if fmt not in FORMATS:
        return None
    row = await load_activation_row(conn, activation_id)
    if row is None:
        return None
    # validating a large snapshot and state (a 10 MB field) is CPU work too: off the loop
    record = replace(
        await asyncio.to_thread(record_from_row, row),
        providers=await load_providers(conn, activation_id),
        sent=await load_sent(conn, activation_id),
    )
    log = await load_log(conn, activation_id)
    previous = (
        await previous_drills(conn, record) if record.kind == "drill" and fmt not in ("log", "log-md") else []
    )
    owner, fixed_in = await follow_up(conn, record) if fmt == "aar" else ("", {})
    # rendering is pure and may be long (a large activation): off the event loop, which keeps
    # answering /healthz and sending meanwhile
    return await asyncio.to_thread(render_loaded, record, log, previous, fmt, owner, fixed_in)


def render_loaded(
    record: ActivationRecord,
    log: list[LogRow],
    previous: list[DrillSummary],
    fmt: str,
    owner: str = "",
    fixed_in: dict[str, int] | None = None,
) -> bytes:
    """The report of an activation already loaded from the store, in `fmt` (see FORMATS); `owner`
    and `fixed_in` are the AAR's follow-up (see `follow_up`)."""
    fixed_in = fixed_in or {}
    if fmt in ("log", "log-md"):
        rows = activity_rows(record, log)
        title = f"{record.snapshot.tree_name} {record.kind} (ref {record.ref})"
        if fmt == "log":
            return activity_log_csv(rows).encode()
        return activity_log_markdown(rows, title, record.snapshot.org_timezone).encode()
    data = compute(record, log, previous).model_copy(
        update={"action_owner": owner, "fixed_in": fixed_in, "deliveries": deliveries(record)}
    )
    if fmt == "png":
        return plot_curve(data)
    renderers = {
        "md": to_markdown,
        "html": to_html,
        "csv": to_csv,
        "json": to_json,
        "aar": after_action_report,
    }
    return renderers[fmt](data).encode()
