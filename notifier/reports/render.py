"""An activation report in Markdown, HTML, CSV and JSON, and its acknowledgement curve as PNG.

Every function takes the one `ReportData` and only formats it (see `tables.py`), so the formats
agree on every figure.

CSV layout: one file in long form, columns `section,item,field,value`. `section` is `summary` or
a table key (`levels`, `nodes`, `people`, `unreachable`, `findings`, `trend`, `curve`, `timeline`,
`fields`); `item` identifies the row within its section (node key, person id, drill id, or a
1-based index); `field` is the column's machine name; durations are whole seconds (`*_s`), times
ISO 8601 UTC. A spreadsheet pivot on (item, field) gives back each table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifier.reports.html import to_html
from notifier.reports.model import ReportData
from notifier.reports.tables import SUMMARY_LABELS, display, raw, summary_values, tables

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["curve_layout", "plot_curve", "to_csv", "to_html", "to_json", "to_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(data: ReportData) -> str:
    kind = "Drill" if data.kind == "drill" else ("Test" if data.kind == "test" else "Incident")
    lines = [
        f"# {kind} report: {data.tree_name} (ref {data.ref})",
        "",
        f"**Verdict: {data.verdict}** - {data.verdict_reason}.",
        "",
        f"{data.counts.confirmed} of {data.counts.notified} people confirmed "
        f"({display('reach_rate', data.reach_rate)}).",
        "",
        "## Summary",
        "",
        "| Figure | Value |",
        "|---|---|",
    ]
    values = summary_values(data)
    tz = data.timezone
    lines += [f"| {label} | {_cell(display(key, values[key], tz))} |" for key, label in SUMMARY_LABELS]
    for table in tables(data):
        lines += ["", f"## {table.title}", ""]
        if table.note:
            lines += [table.note, ""]
        if not table.rows:
            lines.append("None.")
            continue
        lines.append("| " + " | ".join(header for _, header in table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        for row in table.rows:
            cells = (_cell(display(f, row[f], data.timezone)) for f, _ in table.columns)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "field", "value"])
    for key, value in summary_values(data).items():
        writer.writerow(["summary", "", key, raw(value)])
    for table in tables(data):
        id_field = table.columns[0][0]
        for row in table.rows:
            item = raw(row[id_field])
            for field, _ in table.columns[1:]:
                writer.writerow([table.key, item, field, raw(row[field])])
    return out.getvalue()


def to_json(data: ReportData) -> str:
    return data.model_dump_json(indent=2) + "\n"


@dataclass(frozen=True)
class CurveLayout:
    """Where the acknowledgement curve ends and how far the axis runs (minutes)."""

    end_min: float  # the curve stops here: completion, else close/cancel, else the last event
    axis_min: float
    limit_shown: bool  # the time limit fits the axis without squashing a short run


def curve_layout(data: ReportData) -> CurveLayout:
    """The curve ends when the activation did (completed, else closed or cancelled, else its last
    event): a cancelled 45-second test is not drawn flat up to its 45-minute limit. The limit is
    drawn when it is within three times the run's length; otherwise the legend names it."""
    last_event = max([p.offset_s for p in data.curve] + [e.offset_s for e in data.timeline] + [0])
    if data.completion_s is not None:
        end_s = data.completion_s
    elif data.closed_at is not None:
        end_s = max(int((data.closed_at - data.started_at).total_seconds()), 0)
    else:
        end_s = last_event
    end = max(end_s, 1) / 60
    limit = data.time_limit_s / 60
    shown = limit <= end * 3
    axis = (max(end, limit) if shown else end) * 1.05
    return CurveLayout(end_min=end, axis_min=axis, limit_shown=shown)


def curve_figure(data: ReportData) -> Figure:
    """The acknowledgement curve: whole people on the y axis, the legend beside the plot."""
    # imported here: matplotlib is ~45 MB of resident memory that a daemon not rendering a PNG never needs
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    layout = curve_layout(data)
    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = [p for p in data.curve if p.offset_s / 60 <= layout.end_min]
    minutes = [point.offset_s / 60 for point in points]
    confirmed = [point.confirmed for point in points]
    axes.step(
        [*minutes, layout.end_min],
        [*confirmed, confirmed[-1] if confirmed else 0],
        where="post",
        color="#1f5fa8",
        linewidth=2,
        label="confirmed",
    )
    axes.axhline(
        data.counts.notified, color="#777777", linestyle=":", label=f"notified ({data.counts.notified})"
    )
    limit = data.time_limit_s / 60
    if layout.limit_shown:
        axes.axvline(limit, color="#b22222", linestyle="--", label=f"time limit ({limit:g} min)")
    else:
        axes.plot([], [], color="#b22222", linestyle="--", label=f"time limit {limit:g} min (off the chart)")
    if data.completion_s is not None:
        axes.axvline(
            data.completion_s / 60,
            color="#2e7d32",
            linestyle="-.",
            label=f"completed ({data.completion_s / 60:.1f} min)",
        )
    axes.set_xlim(0, layout.axis_min)
    axes.set_ylim(0, max(data.counts.notified, 1) + 0.5)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # people come whole
    axes.set_xlabel("minutes since activation start")
    axes.set_ylabel("people who confirmed")
    axes.set_title(f"{data.tree_name} ({data.ref}): {data.verdict}")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)
    figure.tight_layout()
    return figure


def plot_curve(data: ReportData) -> bytes:
    """Cumulative confirmations over minutes from the start, with the time limit and the total (PNG)."""
    out = io.BytesIO()
    curve_figure(data).savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
