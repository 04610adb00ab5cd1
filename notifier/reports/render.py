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

from notifier.reports.html import to_html
from notifier.reports.model import ReportData
from notifier.reports.tables import SUMMARY_LABELS, display, raw, summary_values, tables

__all__ = ["plot_curve", "to_csv", "to_html", "to_json", "to_markdown"]


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


def plot_curve(data: ReportData) -> bytes:
    """Cumulative confirmations over minutes from the start, with the time limit and the total."""
    # imported here: matplotlib is ~45 MB of resident memory that a daemon not rendering a PNG never needs
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    minutes = [point.offset_s / 60 for point in data.curve]
    confirmed = [point.confirmed for point in data.curve]
    limit = data.time_limit_s / 60
    end = max([limit, *minutes, (data.completion_s or 0) / 60]) * 1.05 or 1.0
    axes.step(
        [*minutes, end],
        [*confirmed, confirmed[-1] if confirmed else 0],
        where="post",
        color="#1f5fa8",
        linewidth=2,
        label="confirmed",
    )
    axes.axhline(
        data.counts.notified, color="#777777", linestyle=":", label=f"notified ({data.counts.notified})"
    )
    axes.axvline(limit, color="#b22222", linestyle="--", label=f"time limit ({limit:g} min)")
    if data.completion_s is not None:
        axes.axvline(
            data.completion_s / 60,
            color="#2e7d32",
            linestyle="-.",
            label=f"completed ({data.completion_s / 60:.1f} min)",
        )
    axes.set_xlim(0, end)
    axes.set_ylim(0, max(data.counts.notified, 1) + 0.5)
    axes.set_xlabel("minutes since activation start")
    axes.set_ylabel("people who confirmed")
    axes.set_title(f"{data.tree_name} ({data.ref}): {data.verdict}")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
