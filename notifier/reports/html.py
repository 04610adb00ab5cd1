"""The HTML report: one self-contained file (inline CSS, PNG curve as a data URI) that prints well.

Self-contained because reports are mailed, archived with the after-action record and opened
offline; a report that loads nothing from anywhere also leaks nothing when opened.
"""

from __future__ import annotations

import base64
from html import escape

from notifier.reports.model import ReportData
from notifier.reports.tables import SUMMARY_LABELS, display, summary_values, tables

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 75em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.verdict { font-size: 1.2em; font-weight: bold; padding: .3em .6em; display: inline-block; }
.PASS { background: #d8f0d8; } .PASS-WITH-EXCEPTIONS { background: #fff3c4; }
.FAIL { background: #f6d4d4; } .IN-PROGRESS { background: #fff3c4; }
img { max-width: 100%; }
@media print {
  body { margin: 0; font-size: 10pt; } h2 { break-after: avoid; } tr { break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def to_html(data: ReportData, png: bytes | None = None) -> str:
    """The report; `png` is the curve from `plot_curve` (drawn here when not given)."""
    if png is None:
        from notifier.reports.render import plot_curve

        png = plot_curve(data)
    kind = "Drill" if data.kind == "drill" else ("Test" if data.kind == "test" else "Incident")
    title = f"{kind} report: {data.tree_name} (ref {data.ref})"
    values = summary_values(data)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="verdict {data.verdict.replace(" ", "-")}" id="verdict">{escape(data.verdict)}</p>',
        f"<p>{escape(data.verdict_reason)}.</p>",
        f"<p>{data.counts.confirmed} of {data.counts.notified} people confirmed "
        f"({escape(display('reach_rate', data.reach_rate))}).</p>",
        '<h2>Summary</h2><table id="summary"><tr><th>Figure</th><th>Value</th></tr>',
    ]
    parts += [
        f'<tr data-field="{key}"><td>{escape(label)}</td>'
        f"<td>{escape(display(key, values[key], data.timezone))}</td></tr>"
        for key, label in SUMMARY_LABELS
    ]
    parts.append("</table>")
    # A line break after each "+": browsers ignore whitespace in base64 data URIs, and the API's
    # contact masking (`+` then 6 digits reads as a phone number) can then never corrupt the image.
    encoded = base64.b64encode(png).decode("ascii").replace("+", "+\n")
    parts.append("<h2>Cumulative acknowledgement curve</h2>")
    parts.append(f'<img alt="cumulative acknowledgements over time" src="data:image/png;base64,{encoded}">')
    for table in tables(data):
        parts.append(f"<h2>{escape(table.title)}</h2>")
        if table.note:
            parts.append(f"<p>{escape(table.note)}</p>")
        if not table.rows:
            parts.append("<p>None.</p>")
            continue
        header = "".join(f'<th data-field="{f}">{escape(h)}</th>' for f, h in table.columns)
        parts.append(f'<table id="{table.key}"><tr>{header}</tr>')
        for row in table.rows:
            cells = "".join(f"<td>{escape(display(f, row[f], data.timezone))}</td>" for f, _ in table.columns)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
