"""The NIST activity log of an activation, and the after-action report skeleton.

NIST SP 800-34 Rev. 1 asks for an activity log with, per recovery step, "by whom; time initiated;
time completed; problems or concerns", and for an after-action report with lessons learned after
every exercise or event. Our raw log has one timestamp per entry; the steps a coordinator cares
about are "activation started", "notify <node>" (initiated when the node was notified, completed
when it was acknowledged or given up on) and "call tree complete", so those are built from the
state, with each node's problems collected from its attempts and log entries.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.domain.exercise import Exercise
from notifier.domain.masking import mask_text
from notifier.reports.figures import ESCALATION_PURPOSES, display_who
from notifier.reports.model import ActivationRecord, LogRow, ReportData
from notifier.reports.reasons import attempt_reason
from notifier.reports.tables import display, format_seconds, format_time

_FAILED = frozenset({"invalid", "opted_out", "failed", "no_answer", "busy", "machine", "unknown"})
_CLOSING_STEPS = {"time limit passed", "exhausted", "cancelled", "closed"}


@dataclass(frozen=True)
class ActivityRow:
    step: str
    who: str
    started: datetime | None
    completed: datetime | None
    problems: str


def activity_rows(activation: ActivationRecord, log: list[LogRow]) -> list[ActivityRow]:
    """One row per NIST step: activation start, each node in tree order, completion, closing."""
    snap, state = activation.snapshot, activation.state
    start = state.started_at
    rows = [ActivityRow("Activation started", mask_text(activation.started_by), start, start, "")]
    for key, node in snap.nodes.items():
        node_state = state.nodes.get(key)
        if node_state is None or node_state.notified_at is None:
            rows.append(ActivityRow(f"Notify {node.label}", "", None, None, "not notified"))
            continue
        problems: list[str] = []
        for cursor in (c for c in state.cursors.values() if c.node == key):
            name = display_who(snap, cursor.person)
            for attempt in state.attempts.values():
                if attempt.node != key or attempt.person != cursor.person:
                    continue
                if attempt.purpose in ESCALATION_PURPOSES and (
                    attempt.status in _FAILED or cursor.status == "exhausted"
                ):
                    problems.append(f"{name}: {attempt_reason(attempt)}")
            if cursor.status == "declined":
                problems.append(f"{name} declined")
        problems += [mask_text(r.problem) for r in log if r.who == key and r.problem]
        who = display_who(snap, node_state.acked_by) if node_state.acked_by else f"({node_state.status})"
        rows.append(
            ActivityRow(
                f"Notify {node.label}",
                who,
                node_state.notified_at,
                node_state.resolved_at,
                "; ".join(dict.fromkeys(problems)),
            )
        )
    if state.completed_at is not None:
        rows.append(
            ActivityRow(
                f"Call tree complete (rule '{snap.completion.rule.value}')",
                "system",
                start,
                state.completed_at,
                "",
            )
        )
    for entry in log:
        if entry.step in _CLOSING_STEPS:
            rows.append(
                ActivityRow(
                    entry.step.capitalize(),
                    display_who(snap, entry.who),
                    entry.at,
                    entry.at,
                    mask_text(entry.problem or ""),
                )
            )
    return rows


def activity_log_csv(rows: list[ActivityRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "who", "started", "completed", "problems"])
    for row in rows:
        writer.writerow(
            [
                row.step,
                row.who,
                row.started.isoformat() if row.started else "",
                row.completed.isoformat() if row.completed else "",
                row.problems,
            ]
        )
    return out.getvalue()


def activity_log_markdown(rows: list[ActivityRow], title: str, timezone: str = "UTC") -> str:
    lines = [
        f"# Activity log: {title}",
        "",
        "| Step | By whom | Initiated | Completed | Problems or concerns |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.step,
            row.who or "-",
            format_time(row.started, timezone),
            format_time(row.completed, timezone),
            row.problems or "-",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


_TO_FILL = "_(to fill in)_"


_OUTCOME_WORDS = {
    "confirmed": "confirmed",
    "declined": "declined",
    "unreachable": "not reached",
    "pending": "still being tried",
    "stopped": "stopped (tree complete)",
}
#: corrective actions are due this many days after the exercise unless the AAR says otherwise
ACTION_DUE_DAYS = 30


def _objectives(data: ReportData, exercise: Exercise) -> list[str]:
    limit = format_seconds(data.time_limit_s)
    return [
        *(f"- {objective}" for objective in exercise.objectives),
        f"- Complete the call tree within the prescribed time limit of {limit} "
        '(NIST SP 800-34 Rev. 1 §3.5.1: "within prescribed time limits").',
        "- Reach every required node of the tree, by its primary or an alternate.",
        "- Confirm that the contact data of everyone in the tree is current.",
    ]


def _participants(data: ReportData) -> list[str]:
    lines = ["| Participant | Position | Outcome | Acknowledged after | Attempts |", "|---|---|---|---|---|"]
    labels = {n.key: n.label for n in data.nodes}
    for p in data.people:
        where = ", ".join(labels.get(n, n) for n in p.nodes)
        lines.append(
            f"| {p.name} | {where} | {_OUTCOME_WORDS[p.outcome]} | {format_seconds(p.ack_from_start_s)} "
            f"| {p.attempts} |"
        )
    return lines if data.people else ["Nobody was notified."]


def _corrective_actions(data: ReportData) -> list[str]:
    owner = data.action_owner or _TO_FILL
    due = (data.started_at + timedelta(days=ACTION_DUE_DAYS)).astimezone(ZoneInfo(data.timezone)).date()
    lines = ["| Action | Owner role | Due | Fixed in plan version |", "|---|---|---|---|"]
    for finding in data.findings:
        fixed = data.fixed_in.get(finding.person_id or "")
        done = f"version {fixed}" if fixed is not None else "open"
        lines.append(f"| {finding.action.replace('|', '/')} | {owner} | {due.isoformat()} | {done} |")
    lines.append(f"| {_TO_FILL} | | | |")
    return lines


def after_action_report(data: ReportData) -> str:
    """The AAR: the exercise as declared, the measured facts, every participant with their outcome,
    corrective actions with an owner role, a due date and the plan version that fixed them; the
    judgement (narrative, lessons) left to the participants. Times are the organisation's."""
    kind = {"drill": "drill", "test": "test"}.get(data.kind, "incident")
    exercise = Exercise.from_fields(data.fields)
    tz = data.timezone
    lines = [
        f"# After-action report: {data.tree_name} {kind} (ref {data.ref})",
        "",
        f"Activation `{data.activation_id}`, started {format_time(data.started_at, tz)} "
        f"by {data.started_by}.",
        f"Reason: {data.reason or '-'}",
        "",
    ]
    if kind != "incident":
        lines += [
            "## 0. The exercise",
            "",
            f"- Type: {exercise.exercise_type.value} (NIST SP 800-34 Rev. 1 Table 3-6)",
            f"- Facilitator: {exercise.facilitator or _TO_FILL}",
            f"- Scope: {exercise.scope or data.tree_name}",
            f"- Scenario: {exercise.scenario or _TO_FILL}",
            f"- Logistics: {exercise.logistics or '-'}",
            "",
        ]
    lines += ["## 1. Objectives and success criteria", "", *_objectives(data, exercise), f"- {_TO_FILL}", ""]
    lines += [
        "## 2. What happened",
        "",
        f"- Verdict: **{data.verdict}** - {data.verdict_reason}.",
        f"- {data.counts.confirmed} of {data.counts.notified} people confirmed "
        f"({display('reach_rate', data.reach_rate)}); {data.counts.declined} declined, "
        f"{data.counts.unreachable} unreachable.",
        f"- Time to acknowledge from the start: median {format_seconds(data.ack_from_start.median_s)}, "
        f"worst {format_seconds(data.ack_from_start.worst_s)}.",
        f"- Tree completion time: {format_seconds(data.completion_s)} "
        f"against {format_seconds(data.time_limit_s)}.",
    ]
    shown = {"exercise_type", "objectives", "facilitator", "scope", "scenario", "logistics"}
    lines += [f"- {key}: {value}" for key, value in data.fields.items() if key not in shown]
    lines += ["", "### Participants", "", *_participants(data), "", "### Not reached", ""]
    lines += [f"- {m.name} ({m.outcome}): {'; '.join(m.reasons)}" for m in data.unreachable] or ["- Nobody."]
    lines += [
        "",
        "### Narrative",
        "",
        _TO_FILL,
        "",
        "## 3. Lessons learned",
        "",
        "| What went well | What did not | Why |",
        "|---|---|---|",
        f"| {_TO_FILL} | | |",
        "",
        "## 4. Corrective actions",
        "",
        *_corrective_actions(data),
        "",
        "## 5. Plan updates",
        "",
        f"Record each change in the plan's record of changes (page, comment, date). {_TO_FILL}",
        "",
        "## 6. Approval",
        "",
        "| Name | Role | Date | Signature |",
        "|---|---|---|---|",
        "| | | | |",
        "",
    ]
    return "\n".join(lines) + "\n"
