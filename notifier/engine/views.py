"""Read models of activations for the API, the CLI and reports (built from snapshot + state)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.domain.progress import people_of
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState, cursor_key
from notifier.engine.contract import (
    ActivationSummary,
    ActivationView,
    AlertView,
    AttemptView,
    NodeProgress,
    PersonProgress,
)
from notifier.store import activation_repo


def summary(row: Any) -> ActivationSummary:
    return ActivationSummary(
        id=row.id,
        ref=row.ref,
        tree=row.tree_id,
        kind=row.kind,
        status=row.status,
        started_at=as_utc(row.started_at),
        started_by=row.started_by,
        completed_at=as_utc(row.completed_at),
    )


def view(row: Any, snapshot: Snapshot) -> ActivationView:
    state = ActivationState.model_validate(row.state)
    attempts_by_person: dict[tuple[str, str], list[AttemptView]] = {}
    for attempt in state.attempts.values():
        attempts_by_person.setdefault((attempt.node, attempt.person), []).append(
            AttemptView(
                channel=str(attempt.channel),
                address=attempt.address,
                status=attempt.status,
                at=attempt.started_at,
            )
        )
    nodes: list[NodeProgress] = []
    counts: Counter[str] = Counter()
    for key, node in snapshot.nodes.items():
        node_state = state.nodes.get(key)
        status = node_state.status if node_state else "pending"
        counts[f"nodes_{status}"] += 1
        people: list[PersonProgress] = []
        for person_id in node.holders:
            cursor = state.cursors.get(cursor_key(key, person_id))
            person = snapshot.people.get(person_id)
            person_status = cursor.status if cursor else "not_contacted"
            counts[f"people_{person_status}"] += 1
            people.append(
                PersonProgress(
                    person=person_id,
                    name=person.name if person else person_id,
                    status=person_status,
                    attempts=attempts_by_person.get((key, person_id), []),
                )
            )
        nodes.append(
            NodeProgress(
                key=key, label=node.label or node.ref, status=status, level=node.level, people=people
            )
        )
    who = people_of(state)  # the one definition of notified / reached / pending (domain/progress.py)
    counts["notified"], counts["reached"] = len(who.notified), len(who.reached)
    counts["pending"] = len(who.pending)
    return ActivationView(
        **summary(row).model_dump(),
        reason=row.reason,
        invoked_by=(row.fields or {}).get("invoked_by"),
        nodes=nodes,
        counts=dict(counts),
    )


def alert_view(row: Any) -> AlertView:
    """A stored alert (a row of `alert_store.list_alerts`) as the API and the CLI show it."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    return AlertView(
        id=row.id,
        received_at=as_utc(row.received_at),
        source=row.source,
        status=row.status,
        outcome=row.outcome,
        detail=row.detail or "",
        service=row.service,
        severity=row.severity,
        summary=str(payload.get("summary", "")),
        dedup_key=row.dedup_key,
        route=row.route,
        incident_key=row.incident_key,
        activation_id=row.activation_id,
        ref=row.ref,
    )


async def load_row(conn: AsyncConnection, activation_id: str) -> Any:
    """The activation row with its current state (checkpoint + journal), or None."""
    return await activation_repo.load_activation_row(conn, activation_id)


async def list_rows(conn: AsyncConnection, status: str | None, limit: int) -> list[Any]:
    return await activation_repo.list_activations(conn, status, limit)
