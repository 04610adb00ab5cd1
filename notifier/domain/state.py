"""The mutable state of one activation, as one immutable, JSON-serialisable model.

The engine stores this as JSON beside the snapshot and hands it back to the planner with every
event; the planner returns a new one. Nothing here is derived from the clock or the plan: it is the
record of what happened (attempts, acknowledgements) and where each escalation stands (cursors).

A *cursor* is one person being worked through one node's escalation policy. Its `fence` is
incremented on every move, and each scheduled deadline carries the fence it was scheduled with,
so a deadline that arrives after the cursor moved on is recognised as stale and ignored (the
fencing token of Grafana OnCall's `active_escalation_id`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from notifier.domain.plan import ChannelKind, Model

AttemptStatus = Literal[
    "queued",
    "sent",
    "delivered",
    "failed",
    "no_answer",
    "busy",
    "machine",
    "answered",
    "invalid",
    "opted_out",
    "unknown",
    "skipped",
    "withdrawn",
    "not_tried",  # no provider took it before its give-up bound (a provider failing: domain/untried.py)
]
CursorStatus = Literal[
    "pending", "notifying", "acknowledged", "declined", "exhausted", "not_tried", "cancelled"
]
NodeStatus = Literal[
    "pending", "notifying", "acknowledged", "declined", "unreachable", "not_tried", "cancelled"
]
ActivationStatus = Literal["open", "completed", "cancelled", "closed"]

#: node statuses after which the node needs nothing more (declined/unreachable/not tried: resolved,
#: not reached; not tried: no provider took its messages, see domain/untried.py)
RESOLVED: frozenset[str] = frozenset({"acknowledged", "declined", "unreachable", "not_tried", "cancelled"})


class AttemptState(Model):
    """One message or call to one address. `node` is empty for sends outside a node's escalation."""

    id: str
    person: str
    node: str
    channel: ChannelKind
    address: str
    status: AttemptStatus = "queued"
    started_at: datetime
    ended_at: datetime | None = None
    error_code: str | None = None
    purpose: str = "activation"  # the Send's message_kind; only escalation attempts move cursors
    #: sends the provider certainly did not take (refused connection, 429, not-created 5xx): retried
    not_sent: int = 0
    #: withdrawn when it stopped mattering, but a sender already had it: it left after the stop
    after_stop: bool = False


class PersonCursor(Model):
    """Where one person stands in one node's escalation policy.

    `(method_index, contact_index)` is the last method step and contact tried in the current
    `round`; (-1, -1) before the first. A `method_index` equal to the number of policy steps means
    a fallback contact chosen outside the policy because nothing in it fitted the hours.
    """

    node: str
    person: str
    holder_index: int
    round: int = 0
    method_index: int = -1
    contact_index: int = -1
    status: CursorStatus = "pending"
    fence: int = 0
    attempt: str | None = None  # the attempt whose acknowledgement wait is running (or about to)
    #: the acknowledgement wait of `attempt`; it starts (`wait_from`) when the provider accepted the
    #: message, or when the send ended with an unknown outcome, never when it was queued
    wait: timedelta | None = None
    wait_from: datetime | None = None
    #: the deadline now scheduled: the give-up time while `attempt` is not yet sent, then its wait's end
    due_at: datetime | None = None
    acked_at: datetime | None = None
    acked_via: str | None = None
    first_at: datetime | None = None  # when this person was first tried for this node

    @property
    def deadline_key(self) -> str:
        return deadline_key(self.node, self.person)


class NodeState(Model):
    status: NodeStatus = "pending"
    holder_index: int = 0
    notified_at: datetime | None = None
    resolved_at: datetime | None = None
    acked_by: str | None = None


class ActivationState(Model):
    status: ActivationStatus = "open"
    started: bool = False
    started_at: datetime
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    time_limit_passed: bool = False
    exhausted: bool = False  # nothing left to try and the completion rule was not met (logged once)
    nodes: dict[str, NodeState]
    cursors: dict[str, PersonCursor] = Field(default_factory=dict)
    attempts: dict[str, AttemptState] = Field(default_factory=dict)
    counter: int = 0
    reached: tuple[str, ...] = ()
    dead_addresses: tuple[str, ...] = ()  # "sms:+32..." found invalid or opted out in this activation
    #: provider outages (`ProviderFailing.outage`) already logged and told to the coordinator
    provider_outages: tuple[str, ...] = ()
    #: nodes the start has still to notify (the last ones of `start_nodes`): a large start goes out
    #: in chunks, one step each (see the planner's "Start" rule)
    start_left: int = 0


TIME_LIMIT_KEY = "time_limit"
#: the deadline that notifies the next chunk of a start (due at once; its fence is the position)
START_KEY = "start"


def cursor_key(node: str, person: str) -> str:
    return f"{node}/{person}"


def deadline_key(node: str, person: str) -> str:
    return f"ack:{node}/{person}"


def address_key(channel: ChannelKind, address: str) -> str:
    return f"{channel.value}:{address}"
