"""Activation events for subscribers: what changed between two states of one activation.

The engine hands every listener the activation's whole new state after each step; subscribers want
changes ("the activation completed", "node X is unreachable", "person P acknowledged"). Diffing
the state, rather than hooking each code path that can change it, reports every path alike (SMS
reply, keypress, email link, on-behalf acknowledgement, deadline). Events name plan ids only (person,
node): never a phone number or an email address, because a broker's topics are widely readable.
Pure: no I/O, so it is tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifier.domain.state import ActivationState

ANSWERS = frozenset({"acknowledged", "declined"})


@dataclass(frozen=True)
class Digest:
    """The parts of a state that events are about."""

    status: str
    nodes: dict[str, str] = field(default_factory=dict)
    answers: dict[str, tuple[str, str, str, str | None]] = field(default_factory=dict)
    """cursor key -> (node, person, acknowledged|declined, via)"""


def digest(state: ActivationState) -> Digest:
    return Digest(
        status=state.status,
        nodes={key: node.status for key, node in state.nodes.items()},
        answers={
            key: (c.node, c.person, c.status, c.acked_via)
            for key, c in state.cursors.items()
            if c.status in ANSWERS
        },
    )


def changes(activation_id: str, before: Digest | None, after: Digest, at: datetime) -> list[dict[str, Any]]:
    """The events that lead from `before` (None: never seen) to `after`, in a stable order."""
    stamp = at.isoformat()
    events: list[dict[str, Any]] = []
    if before is None or before.status != after.status:
        events.append(
            {"event": "activation", "activation_id": activation_id, "status": after.status, "at": stamp}
        )
    old_nodes = before.nodes if before else {}
    for key, status in after.nodes.items():
        if old_nodes.get(key) != status and not (before is None and status == "pending"):
            events.append(
                {"event": "node", "activation_id": activation_id, "node": key, "status": status, "at": stamp}
            )
    old_answers = before.answers if before else {}
    for key, (node, person, status, via) in sorted(after.answers.items()):
        if old_answers.get(key, (None, None, None, None))[2] != status:
            events.append(
                {
                    "event": status,
                    "activation_id": activation_id,
                    "node": node,
                    "person": person,
                    "via": via,
                    "at": stamp,
                }
            )
    return events


FINAL = frozenset({"closed", "cancelled"})


class EventTracker:
    """Remembers the last digest of each live activation; forgets closed and cancelled ones."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._last: dict[str, Digest] = {}

    def observe(self, activation_id: str, state: ActivationState, at: datetime) -> list[dict[str, Any]]:
        after = digest(state)
        found = changes(activation_id, self._last.get(activation_id), after, at)
        if after.status in FINAL:
            self._last.pop(activation_id, None)
        else:
            self._last[activation_id] = after
            while len(self._last) > self.limit:
                self._last.pop(next(iter(self._last)))
        return found
