"""Activation events for subscribers: what one engine step changed in one activation.

The MQTT publisher and the console's live pages (through `notifier.engine.hub`) use the same events.

Subscribers want changes ("the activation completed", "node X is unreachable", "person P
acknowledged"). They are derived from the step's states before and after, limited to the entries
the planner wrote (`StepResult.changed`), rather than by hooking each code path that can change a
state: every path (SMS reply, keypress, email link, on-behalf acknowledgement, deadline) is
reported alike, and a step costs O(what it changed) even in a 10,000-person broadcast. Events name
plan ids only (person, node): never a phone number or an email address, because a broker's topics
are widely readable. Pure: no I/O, so it is tested without a broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from notifier.domain.state import ActivationState

ANSWERS = frozenset({"acknowledged", "declined"})


def step_events(
    activation_id: str,
    before: ActivationState | None,
    after: ActivationState,
    changed: Mapping[str, Sequence[str]],
    at: datetime,
) -> list[dict[str, Any]]:
    """The events that lead from `before` (None: not known, report everything) to `after`."""
    stamp = at.isoformat()
    events: list[dict[str, Any]] = []
    if before is None or before.status != after.status or (after.started and not before.started):
        events.append(
            {"event": "activation", "activation_id": activation_id, "status": after.status, "at": stamp}
        )
    node_keys = after.nodes if before is None else changed.get("nodes", ())
    for key in node_keys:
        status = after.nodes[key].status
        old = before.nodes.get(key) if before is not None else None
        if (old.status if old is not None else "pending") != status:
            events.append(
                {"event": "node", "activation_id": activation_id, "node": key, "status": status, "at": stamp}
            )
    cursor_keys = after.cursors if before is None else changed.get("cursors", ())
    for key in sorted(cursor_keys):
        cursor = after.cursors[key]
        old_cursor = before.cursors.get(key) if before is not None else None
        if cursor.status in ANSWERS and (old_cursor is None or old_cursor.status != cursor.status):
            events.append(
                {
                    "event": cursor.status,
                    "activation_id": activation_id,
                    "node": cursor.node,
                    "person": cursor.person,
                    "via": cursor.acked_via,
                    "at": stamp,
                }
            )
    return events
