"""The report's sections as plain tables of raw values, shared by every text format.

Markdown and HTML show these tables with durations as `6m 30s` and times in the organisation's time
zone (`2026-03-10 10:00:00 CET`); CSV writes the raw values (seconds, ISO 8601 in UTC). Because all
three walk the same tables built from one `ReportData`, a
figure cannot appear in one format and differ in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.reports.model import ReportData

Value = str | int | float | datetime | None


@dataclass(frozen=True)
class Table:
    key: str  # the CSV `section`
    title: str
    columns: tuple[tuple[str, str], ...]  # (field, header); the first field identifies the row
    rows: tuple[dict[str, Value], ...]
    note: str = ""


def format_seconds(value: int | None) -> str:
    """`6m 30s`, `1h 02m 03s`, `45s`; `-` for no value. `parse_seconds` reads it back."""
    if value is None:
        return "-"
    sign, value = ("-", -value) if value < 0 else ("", value)
    hours, rest = divmod(value, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def format_time(value: datetime | None, timezone: str = "UTC") -> str:
    """`2026-03-10 10:00:00 CET`: the wall clock of `timezone` (the organisation's) with its abbreviation."""
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def display(field: str, value: Value, timezone: str = "UTC") -> str:
    """A raw value as a reader sees it in Markdown or HTML (times in `timezone`)."""
    if value is None:
        return "-"
    if field.endswith("_s") and isinstance(value, int):
        return format_seconds(value)
    if isinstance(value, datetime):
        return format_time(value, timezone)
    if field == "reach_rate" and isinstance(value, float):
        return f"{value:.1f}%"
    return str(value)


def raw(value: Value) -> str:
    """A raw value as CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


SUMMARY_LABELS: tuple[tuple[str, str], ...] = (
    ("activation_id", "Activation"),
    ("ref", "Reference code"),
    ("tree_id", "Call tree id"),
    ("tree_name", "Call tree"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("started_at", "Started"),
    ("started_by", "Started by"),
    ("reason", "Reason"),
    ("completed_at", "Completed"),
    ("closed_at", "Closed"),
    ("notified", "People notified"),
    ("confirmed", "Confirmed"),
    ("declined", "Declined"),
    ("unreachable", "Unreachable"),
    ("not_tried", "Not tried: a provider was failing"),
    ("pending", "Pending"),
    ("stopped", "Stopped before answering"),
    ("reached", "Received the message"),
    ("nodes", "Nodes"),
    ("nodes_acknowledged", "Nodes acknowledged"),
    ("nodes_declined", "Nodes declined"),
    ("nodes_unreachable", "Nodes unreachable"),
    ("nodes_not_tried", "Nodes not tried (a provider was failing)"),
    ("withdrawn", "Messages withdrawn before sending (no longer needed)"),
    ("sent_after_stop", "Messages sent after they stopped mattering"),
    ("updates_sent", "Updates sent"),
    ("sms_sent", "SMS sent"),
    ("sms_segments", "SMS segments billed"),
    ("reach_rate", "Reach rate (confirmed / notified)"),
    ("median_ack_from_start_s", "Median time to acknowledge (from start)"),
    ("worst_ack_from_start_s", "Worst time to acknowledge (from start)"),
    ("median_ack_from_notified_s", "Median time to acknowledge (from first notification)"),
    ("worst_ack_from_notified_s", "Worst time to acknowledge (from first notification)"),
    ("completion_s", "Tree completion time"),
    ("time_limit_s", "Prescribed time limit"),
    ("verdict", "Verdict"),
    ("verdict_reason", "Verdict detail"),
)


def summary_values(data: ReportData) -> dict[str, Value]:
    values: dict[str, Any] = data.model_dump(
        include={
            "activation_id",
            "ref",
            "tree_id",
            "tree_name",
            "kind",
            "status",
            "started_at",
            "started_by",
            "reason",
            "completed_at",
            "closed_at",
            "reach_rate",
            "completion_s",
            "time_limit_s",
            "verdict",
            "verdict_reason",
        }
    )
    values.update(data.counts.model_dump())
    values["median_ack_from_start_s"] = data.ack_from_start.median_s
    values["worst_ack_from_start_s"] = data.ack_from_start.worst_s
    values["median_ack_from_notified_s"] = data.ack_from_notified.median_s
    values["worst_ack_from_notified_s"] = data.ack_from_notified.worst_s
    return {key: values[key] for key, _ in SUMMARY_LABELS}


def _rows(items: Any, fields: tuple[tuple[str, str], ...]) -> tuple[dict[str, Value], ...]:
    rows = []
    for index, item in enumerate(items, start=1):
        dumped = item.model_dump() if hasattr(item, "model_dump") else dict(item)
        dumped["index"] = index
        row: dict[str, Value] = {}
        for name, _ in fields:
            value = dumped.get(name)
            row[name] = "; ".join(value) if isinstance(value, tuple | list) else value
        rows.append(row)
    return tuple(rows)


def tables(data: ReportData) -> list[Table]:
    """Every section after the summary, in reading order (empty ones included, for CSV headers)."""
    level_cols = (
        ("level", "Level"),
        ("nodes", "Nodes"),
        ("acknowledged", "Acknowledged"),
        ("median_s", "Median from start"),
        ("worst_s", "Worst from start"),
    )
    node_cols = (
        ("key", "Node"),
        ("label", "Label"),
        ("level", "Level"),
        ("status", "Status"),
        ("acked_by", "Acknowledged by"),
        ("notified_at", "Notified"),
        ("ack_from_start_s", "Ack from start"),
        ("ack_from_notified_s", "Ack from notified"),
    )
    people_cols = (
        ("person_id", "Person"),
        ("name", "Name"),
        ("nodes", "Nodes"),
        ("outcome", "Outcome"),
        ("attempts", "Attempts"),
        ("acked_via", "Via"),
        ("ack_from_start_s", "Ack from start"),
        ("ack_from_notified_s", "Ack from first notification"),
    )
    miss_cols = (("person_id", "Person"), ("name", "Name"), ("outcome", "Outcome"), ("reasons", "Why"))
    finding_cols = (("index", "#"), ("person_id", "Person"), ("action", "Action"))
    trend_cols = (
        ("activation_id", "Drill"),
        ("ref", "Ref"),
        ("started_at", "Started"),
        ("notified", "Notified"),
        ("confirmed", "Confirmed"),
        ("reach_rate", "Reach rate"),
        ("median_ack_s", "Median ack"),
        ("worst_ack_s", "Worst ack"),
        ("completion_s", "Completion"),
        ("time_limit_s", "Limit"),
        ("verdict", "Verdict"),
    )
    curve_cols = (("index", "#"), ("offset_s", "Time from start"), ("confirmed", "Confirmed so far"))
    delivery_cols = (
        ("attempt_id", "Attempt"),
        ("person_id", "Person"),
        ("channel", "Channel"),
        ("provider", "Provider"),
        ("status", "Status"),
        ("detail", "Provider's answer"),
    )
    timeline_cols = (
        ("index", "#"),
        ("at", "Time"),
        ("offset_s", "T+"),
        ("step", "Step"),
        ("who", "Who"),
        ("outcome", "Outcome"),
        ("problem", "Problem"),
    )
    field_rows: tuple[dict[str, Value], ...] = tuple({"field": k, "value": v} for k, v in data.fields.items())
    trend_note = (
        "Earlier drills of this call tree, oldest first, then this one. Incidents are never included."
        if data.kind == "drill"
        else "Trends are reported for drills only."
    )
    return [
        Table("fields", "Message fields", (("field", "Field"), ("value", "Value")), field_rows),
        Table("levels", "Time to acknowledge by tree level", level_cols, _rows(data.levels, level_cols)),
        Table("nodes", "Nodes", node_cols, _rows(data.nodes, node_cols)),
        Table("people", "People", people_cols, _rows(data.people, people_cols)),
        Table("unreachable", "Not reached, and why", miss_cols, _rows(data.unreachable, miss_cols)),
        Table(
            "findings", "Data-quality findings (actions)", finding_cols, _rows(data.findings, finding_cols)
        ),
        Table(
            "trend", "Trend over drills of this tree", trend_cols, _rows(data.trend, trend_cols), trend_note
        ),
        Table("curve", "Cumulative acknowledgements", curve_cols, _rows(data.curve, curve_cols)),
        Table("timeline", "Timeline", timeline_cols, _rows(data.timeline, timeline_cols)),
        Table(
            "deliveries",
            "Delivery by provider, per attempt",
            delivery_cols,
            _rows(data.deliveries, delivery_cols),
            "Which provider of the channel's failover list sent each attempt; "
            "'after ... failed' marks a failover.",
        ),
    ]
