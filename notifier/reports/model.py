"""The inputs and the single output of the report computation.

`ReportData` holds every figure a report shows. Markdown, HTML, CSV, JSON and the PNG curve are all
rendered from one instance, which is how the formats are guaranteed to agree: no renderer computes
anything beyond formatting. Durations are whole seconds (medians rounded half up) so that a figure
parsed back from any format compares exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState

Verdict = Literal["PASS", "PASS WITH EXCEPTIONS", "FAIL", "IN PROGRESS"]
PersonOutcome = Literal["confirmed", "declined", "unreachable", "not_tried", "pending", "stopped"]


@dataclass(frozen=True)
class ActivationRecord:
    """One `activations` row with its JSON columns parsed."""

    id: str
    ref: str
    tree_id: str
    kind: str
    status: str
    started_at: datetime
    started_by: str
    reason: str
    snapshot: Snapshot
    state: ActivationState
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    #: per attempt id, the provider that answered its send and what it said (from the outbox)
    providers: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (message kind, channel, text) of every message that left (outbox rows sent), oldest first
    sent: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class LogRow:
    """One activity-log entry (or a response merged into the timeline)."""

    at: datetime
    step: str
    who: str | None
    outcome: str
    problem: str | None = None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class DrillSummary(_Model):
    """The headline figures of one drill, as one row of the trend table."""

    activation_id: str
    ref: str
    started_at: datetime
    notified: int
    confirmed: int
    reach_rate: float
    median_ack_s: int | None
    worst_ack_s: int | None
    completion_s: int | None
    time_limit_s: int
    verdict: Verdict


class Counts(_Model):
    notified: int
    confirmed: int
    declined: int
    unreachable: int
    pending: int
    stopped: int  # being notified when the activation completed, was cancelled or closed
    not_tried: int = 0  # no provider took their messages before the give-up bound (domain/untried.py)
    reached: int  # got the message (delivered, answered, voicemail) or answered
    nodes: int
    nodes_acknowledged: int
    nodes_declined: int
    nodes_unreachable: int
    nodes_not_tried: int = 0
    #: queued messages taken back when they stopped mattering (a node acknowledged, the tree done)
    withdrawn: int = 0
    #: messages withdrawn while a sender already had them: they left after the stop
    sent_after_stop: int = 0
    updates_sent: int = 0  # coordinator and monitoring updates (one per recipient)
    sms_sent: int = 0
    sms_segments: int = 0  # billed segments of the SMS sent (160 GSM-7 / 70 UCS-2 in one)


class Stats(_Model):
    count: int
    median_s: int | None
    worst_s: int | None


class PersonFigure(_Model):
    person_id: str
    name: str
    nodes: tuple[str, ...]
    outcome: PersonOutcome
    first_notified_at: datetime | None
    acked_at: datetime | None
    acked_via: str | None
    ack_from_start_s: int | None
    ack_from_notified_s: int | None
    attempts: int


class NodeFigure(_Model):
    key: str
    label: str
    level: int
    status: str
    acked_by: str | None
    notified_at: datetime | None
    resolved_at: datetime | None
    ack_from_start_s: int | None
    ack_from_notified_s: int | None


class LevelFigure(_Model):
    level: int
    nodes: int
    acknowledged: int
    median_s: int | None
    worst_s: int | None


class Unreachable(_Model):
    person_id: str
    name: str
    outcome: PersonOutcome
    reasons: tuple[str, ...]


class AttemptDelivery(_Model):
    """One attempt as the failover chain sent it: which provider answered, with what."""

    attempt_id: str
    person_id: str
    channel: str
    provider: str
    status: str
    detail: str


class Finding(_Model):
    person_id: str | None
    action: str


class TimelineEntry(_Model):
    at: datetime
    offset_s: int
    step: str
    who: str
    outcome: str
    problem: str


class CurvePoint(_Model):
    offset_s: int
    confirmed: int


class ReportData(_Model):
    activation_id: str
    ref: str
    tree_id: str
    tree_name: str
    kind: str
    status: str
    started_at: datetime
    started_by: str
    reason: str
    fields: dict[str, str]
    completed_at: datetime | None
    closed_at: datetime | None
    counts: Counts
    reach_rate: float  # percent of people notified who confirmed, one decimal
    ack_from_start: Stats
    ack_from_notified: Stats
    completion_s: int | None
    time_limit_s: int
    verdict: Verdict
    verdict_reason: str
    people: tuple[PersonFigure, ...]
    nodes: tuple[NodeFigure, ...]
    levels: tuple[LevelFigure, ...]
    unreachable: tuple[Unreachable, ...]
    findings: tuple[Finding, ...]
    timeline: tuple[TimelineEntry, ...]
    trend: tuple[DrillSummary, ...]
    curve: tuple[CurvePoint, ...]
    timezone: str = "UTC"  # the organisation's: Markdown and HTML show times on its wall clock
    deliveries: tuple[AttemptDelivery, ...] = ()  # per attempt, the provider that sent it
    action_owner: str = ""  # the role that owns corrective actions (the plan owner), from the stored plan
    fixed_in: dict[str, int] = {}  # person id -> first plan version after the activation that changed them
