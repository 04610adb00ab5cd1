"""Every figure of an activation report, computed once from the frozen snapshot and the final state.

Pure: no I/O and no clock. The state already holds everything that happened (each attempt with its
provider verdict, each person's acknowledgement time, each node's resolution), so the figures are a
reading of it, and a test can drive the planner with scripted events and check them exactly.

Definitions (shown in the reports as well):

* *notified*: people the escalation tried to reach (a cursor in some node). Their outcome is the
  best of their cursors: confirmed > declined > pending > unreachable > stopped.
* *reach rate*: confirmed / notified, in percent with one decimal.
* *time to acknowledge*: from the activation start, and from the person's first notification.
  Medians of an even count are the mean of the middle two; every duration is rounded to the second.
* *completion time*: activation start to the completion rule being met, judged against the tree's
  prescribed time limit (NIST SP 800-34 Rev. 1 §3.5.1: "within prescribed time limits").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta

from notifier.domain import progress
from notifier.domain.durations import format_duration
from notifier.domain.masking import mask_text
from notifier.domain.messages import sms_segments
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState, AttemptState, PersonCursor, cursor_key
from notifier.reports.model import (
    ActivationRecord,
    Counts,
    CurvePoint,
    DrillSummary,
    Finding,
    LevelFigure,
    LogRow,
    NodeFigure,
    PersonFigure,
    PersonOutcome,
    ReportData,
    Stats,
    TimelineEntry,
    Unreachable,
    Verdict,
)
from notifier.reports.reasons import attempt_reason, contact_findings, node_findings

ESCALATION_PURPOSES = frozenset({"activation", "drill"})
_OUTCOME_ORDER: tuple[PersonOutcome, ...] = (
    "confirmed",
    "declined",
    "pending",
    "unreachable",
    "not_tried",
    "stopped",
)
_CURSOR_OUTCOME: dict[str, PersonOutcome] = {
    "acknowledged": "confirmed",
    "declined": "declined",
    "pending": "pending",
    "notifying": "pending",
    "exhausted": "unreachable",
    "not_tried": "not_tried",
    "cancelled": "stopped",
}


def seconds(delta: timedelta) -> int:
    """Whole seconds, rounded half up (the unit of every duration in a report)."""
    return math.floor(delta.total_seconds() + 0.5)


def stats(values: Iterable[int]) -> Stats:
    ordered = sorted(values)
    if not ordered:
        return Stats(count=0, median_s=None, worst_s=None)
    return Stats(
        count=len(ordered), median_s=math.floor(statistics.median(ordered) + 0.5), worst_s=ordered[-1]
    )


def compute(activation: ActivationRecord, log: list[LogRow], previous: list[DrillSummary]) -> ReportData:
    """The report of one activation; `previous` are earlier drills of the same tree (for drills only)."""
    snap, state = activation.snapshot, activation.state
    start = state.started_at
    people = _people(snap, state, start)
    nodes = _nodes(snap, state, start)
    confirmed = [p for p in people if p.outcome == "confirmed"]
    completion_s, verdict, verdict_reason = _verdict(activation, nodes)
    node_statuses = [n.status for n in nodes]
    who = progress.people_of(state)  # the one definition of notified / reached, shared with the API
    counts = Counts(
        notified=len(who.notified),
        **{outcome: sum(1 for p in people if p.outcome == outcome) for outcome in _OUTCOME_ORDER},
        reached=len(who.reached),
        nodes=len(nodes),
        nodes_acknowledged=node_statuses.count("acknowledged"),
        nodes_declined=node_statuses.count("declined"),
        nodes_unreachable=node_statuses.count("unreachable"),
        nodes_not_tried=node_statuses.count("not_tried"),
        withdrawn=sum(1 for a in state.attempts.values() if a.status == "withdrawn"),
        sent_after_stop=sum(1 for a in state.attempts.values() if a.after_stop),
        updates_sent=sum(1 for kind, _, _ in activation.sent if kind == "update"),
        sms_sent=sum(1 for _, channel, _ in activation.sent if channel == "sms"),
        sms_segments=sum(sms_segments(text) for _, channel, text in activation.sent if channel == "sms"),
    )
    data = ReportData(
        activation_id=activation.id,
        ref=activation.ref,
        tree_id=snap.tree_id,
        tree_name=snap.tree_name,
        kind=activation.kind,
        status=activation.status,
        started_at=start,
        started_by=mask_text(activation.started_by),
        reason=mask_text(activation.reason),
        fields={str(k): mask_text(str(v)) for k, v in activation.fields.items()},
        completed_at=state.completed_at or activation.completed_at,
        closed_at=state.closed_at or activation.closed_at,
        counts=counts,
        reach_rate=round(100.0 * len(confirmed) / len(people), 1) if people else 0.0,
        ack_from_start=stats(p.ack_from_start_s for p in confirmed if p.ack_from_start_s is not None),
        ack_from_notified=stats(
            p.ack_from_notified_s for p in confirmed if p.ack_from_notified_s is not None
        ),
        completion_s=completion_s,
        time_limit_s=seconds(snap.time_limit),
        verdict=verdict,
        verdict_reason=verdict_reason,
        people=tuple(people),
        nodes=tuple(nodes),
        levels=_levels(nodes),
        unreachable=_unreachable(snap, state, people),
        findings=_findings(snap, state, people),
        timeline=_timeline(snap, log, start),
        trend=(),
        curve=_curve(confirmed),
        timezone=activation.snapshot.org_timezone,
    )
    if activation.kind != "drill":
        return data  # drill figures are never mixed with incident (or test) statistics
    trend = [*sorted(previous, key=lambda row: row.started_at), summarize(data)]
    return data.model_copy(update={"trend": tuple(trend)})


def summarize(data: ReportData) -> DrillSummary:
    """The trend-table row of one drill's report."""
    return DrillSummary(
        activation_id=data.activation_id,
        ref=data.ref,
        started_at=data.started_at,
        notified=data.counts.notified,
        confirmed=data.counts.confirmed,
        reach_rate=data.reach_rate,
        median_ack_s=data.ack_from_start.median_s,
        worst_ack_s=data.ack_from_start.worst_s,
        completion_s=data.completion_s,
        time_limit_s=data.time_limit_s,
        verdict=data.verdict,
    )


# --- people and nodes ---------------------------------------------------------------------------


def escalation_attempts(state: ActivationState, person_id: str) -> list[AttemptState]:
    found = [
        a
        for a in state.attempts.values()
        if a.person == person_id and a.node and a.purpose in ESCALATION_PURPOSES
    ]
    return sorted(found, key=lambda a: (a.started_at, int(a.id.lstrip("a") or 0)))


def _people(snap: Snapshot, state: ActivationState, start: datetime) -> list[PersonFigure]:
    cursors: dict[str, list[PersonCursor]] = {}
    for cursor in state.cursors.values():
        cursors.setdefault(cursor.person, []).append(cursor)
    figures: list[PersonFigure] = []
    for person_id, own in cursors.items():
        outcomes = {_CURSOR_OUTCOME[c.status] for c in own}
        outcome = next(o for o in _OUTCOME_ORDER if o in outcomes)
        acks = sorted((c for c in own if c.acked_at is not None), key=lambda c: c.acked_at or start)
        attempts = escalation_attempts(state, person_id)
        first = attempts[0].started_at if attempts else None
        acked_at = acks[0].acked_at if acks and outcome == "confirmed" else None
        person = snap.people.get(person_id)
        figures.append(
            PersonFigure(
                person_id=person_id,
                name=person.name if person else person_id,
                nodes=tuple(dict.fromkeys(c.node for c in own)),
                outcome=outcome,
                first_notified_at=first,
                acked_at=acked_at,
                acked_via=mask_text(acks[0].acked_via or "") if acked_at else None,
                ack_from_start_s=seconds(acked_at - start) if acked_at else None,
                ack_from_notified_s=seconds(acked_at - first) if acked_at and first else None,
                attempts=len(attempts),
            )
        )
    node_order = {key: index for index, key in enumerate(snap.nodes)}
    return sorted(
        figures, key=lambda p: (min(node_order.get(n, 0) for n in p.nodes), p.first_notified_at or start)
    )


def _nodes(snap: Snapshot, state: ActivationState, start: datetime) -> list[NodeFigure]:
    figures: list[NodeFigure] = []
    for key, node in snap.nodes.items():
        node_state = state.nodes.get(key)
        status = node_state.status if node_state else "pending"
        acked_at: datetime | None = None
        if node_state is not None and status == "acknowledged":
            cursor = state.cursors.get(cursor_key(key, node_state.acked_by or ""))
            acked_at = (cursor.acked_at if cursor else None) or node_state.resolved_at
        notified = node_state.notified_at if node_state else None
        figures.append(
            NodeFigure(
                key=key,
                label=node.label,
                level=node.level,
                status=status,
                acked_by=node_state.acked_by if node_state else None,
                notified_at=notified,
                resolved_at=node_state.resolved_at if node_state else None,
                ack_from_start_s=seconds(acked_at - start) if acked_at else None,
                ack_from_notified_s=seconds(acked_at - notified) if acked_at and notified else None,
            )
        )
    return figures


def _levels(nodes: list[NodeFigure]) -> tuple[LevelFigure, ...]:
    levels: list[LevelFigure] = []
    for level in sorted({n.level for n in nodes}):
        at_level = [n for n in nodes if n.level == level]
        times = stats(n.ack_from_start_s for n in at_level if n.ack_from_start_s is not None)
        acknowledged = sum(1 for n in at_level if n.status == "acknowledged")
        levels.append(
            LevelFigure(
                level=level,
                nodes=len(at_level),
                acknowledged=acknowledged,
                median_s=times.median_s,
                worst_s=times.worst_s,
            )
        )
    return tuple(levels)


def _exceptions(activation: ActivationRecord, nodes: list[NodeFigure]) -> tuple[list[str], list[str]]:
    """(leader nodes, other nodes) that are required and were not reached by anyone.

    A leader is a node with children: when nobody holding it acknowledged, the branch under it ran
    without its leader (NIST: "Team leaders should have a designated alternate")."""
    leaders: list[str] = []
    others: list[str] = []
    for figure in nodes:
        snap = activation.snapshot.nodes.get(figure.key)
        if snap is None or not snap.required or figure.status not in ("unreachable", "declined"):
            continue
        (leaders if snap.children else others).append(f"{figure.label} ({figure.status})")
    return leaders, others


def _verdict(activation: ActivationRecord, nodes: list[NodeFigure]) -> tuple[int | None, Verdict, str]:
    """PASS: completed within the time limit with every required node reached. PASS WITH EXCEPTIONS:
    within the limit, but required nodes without children were not reached (named). FAIL: over the
    limit, not completed, or a required leader node (one with children) was not reached."""
    state = activation.state
    limit = activation.snapshot.time_limit
    limit_text = f"the prescribed {format_duration(limit)}"
    completed_at = state.completed_at or activation.completed_at
    if completed_at is not None:
        taken = seconds(completed_at - state.started_at)
        leaders, others = _exceptions(activation, nodes)
        taken_text = format_duration(timedelta(seconds=taken))
        missed = leaders + others
        note = f"; not reached: {', '.join(missed)}" if missed else ""
        if taken > seconds(limit):
            return taken, "FAIL", f"completed in {taken_text}, over {limit_text}{note}"
        if leaders:
            reason = f"completed in {taken_text}, within {limit_text}, but a leader was not reached{note}"
            return taken, "FAIL", reason
        if others:
            return taken, "PASS WITH EXCEPTIONS", f"completed in {taken_text}, within {limit_text}{note}"
        return taken, "PASS", f"completed in {taken_text}, within {limit_text}"
    status = activation.status
    if status in ("cancelled", "closed"):
        return None, "FAIL", f"{status} before the completion rule was met"
    if state.time_limit_passed:
        return None, "FAIL", f"not completed within {limit_text}"
    return None, "IN PROGRESS", f"still running; {limit_text} has not passed"


# --- misses, findings, timeline, curve ----------------------------------------------------------


def _unreachable(
    snap: Snapshot, state: ActivationState, people: list[PersonFigure]
) -> tuple[Unreachable, ...]:
    rows = []
    for person in people:
        if person.outcome not in ("unreachable", "stopped"):
            continue
        reasons = tuple(attempt_reason(a) for a in escalation_attempts(state, person.person_id))
        rows.append(
            Unreachable(
                person_id=person.person_id,
                name=person.name,
                outcome=person.outcome,
                reasons=reasons or ("no usable contact method",),
            )
        )
    return tuple(rows)


def _findings(snap: Snapshot, state: ActivationState, people: list[PersonFigure]) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for person in people:
        person_snap = snap.people.get(person.person_id)
        if person_snap is None:
            continue
        attempts = escalation_attempts(state, person.person_id)
        found += contact_findings(person_snap, attempts, unreachable=person.outcome == "unreachable")
    declined = {c.node for c in state.cursors.values() if c.status == "declined"}
    for key, node in snap.nodes.items():
        node_state = state.nodes.get(key)
        found += node_findings(node, node_state.status if node_state else "pending", key in declined)
    unique: dict[str, Finding] = {f.action: f for f in reversed(found)}
    return tuple(f for f in found if unique.get(f.action) is f)


def display_who(snap: Snapshot, who: str | None) -> str:
    """A person's name or a node's label instead of an internal id; anything else as written."""
    if not who:
        return ""
    if who in snap.people:
        return snap.people[who].name
    if who in snap.nodes:
        return snap.nodes[who].label
    return mask_text(who)


def _timeline(snap: Snapshot, log: list[LogRow], start: datetime) -> tuple[TimelineEntry, ...]:
    ordered = sorted(enumerate(log), key=lambda item: (item[1].at, item[0]))
    return tuple(
        TimelineEntry(
            at=row.at,
            offset_s=seconds(row.at - start),
            step=row.step,
            who=display_who(snap, row.who),
            outcome=mask_text(row.outcome),
            problem=mask_text(row.problem or ""),
        )
        for _, row in ordered
    )


def _curve(confirmed: list[PersonFigure]) -> tuple[CurvePoint, ...]:
    times = sorted(p.ack_from_start_s for p in confirmed if p.ack_from_start_s is not None)
    points = [CurvePoint(offset_s=t, confirmed=index) for index, t in enumerate(times, start=1)]
    return (CurvePoint(offset_s=0, confirmed=0), *points)
