"""How the coordinator CLI shows activations: a table of activations, a call tree with colours.

The tree mirrors the call tree's shape (the API gives each node its depth), so a coordinator sees
at a glance which branch is stuck. Addresses are masked even for coordinators: a terminal can be
shared on a screen or pasted into a chat; `--json` is there for the full data.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from notifier.domain.masking import mask_address
from notifier.domain.progress import status_word

STYLE = {
    "pending": "dim",
    "notifying": "yellow",
    "acknowledged": "green",
    "declined": "magenta",
    "unreachable": "bold red",
    "exhausted": "red",
    "not_contacted": "dim",
    "cancelled": "dim",
    "open": "yellow",
    "completed": "green",
    "closed": "blue",
}
FINISHED = frozenset({"completed", "closed", "cancelled"})


def _status(status: str, person: bool = False) -> Text:
    """A status in a coordinator's words (the console's and the report's), coloured."""
    return Text(status_word(status, person), style=STYLE.get(status, ""))


def _time(value: Any) -> str:
    text = str(value or "")
    return text[:19].replace("T", " ") if text else ""


def activations_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "ref", "tree", "kind", "status", "started (UTC)", "by", "completed (UTC)")
    for row in rows:
        table.add_row(
            str(row.get("id", "")),
            str(row.get("ref", "")),
            str(row.get("tree", "")),
            str(row.get("kind", "")),
            _status(str(row.get("status", ""))),
            _time(row.get("started_at")),
            str(row.get("started_by", "")),
            _time(row.get("completed_at")),
        )
    return table


def _attempts(person: dict[str, Any]) -> str:
    parts = [
        f"{a.get('channel')} {mask_address(str(a.get('address', '')))} {status_word(str(a.get('status')))}"
        for a in person.get("attempts", [])
    ]
    return "; ".join(parts)


def _person_line(person: dict[str, Any]) -> Text:
    line = Text()
    line.append(str(person.get("name", "")), style="bold")
    line.append(f" ({person.get('person', '')}) ")
    line.append_text(_status(str(person.get("status", "")), person=True))
    attempts = _attempts(person)
    if attempts:
        line.append(f"  {attempts}", style="dim")
    return line


def counts_line(view: dict[str, Any]) -> str:
    counts: dict[str, int] = view.get("counts", {})
    people = {k.removeprefix("people_"): v for k, v in counts.items() if k.startswith("people_") and v}
    nodes = {k.removeprefix("nodes_"): v for k, v in counts.items() if k.startswith("nodes_") and v}
    people_text = ", ".join(f"{v} {status_word(k, person=True)}" for k, v in sorted(people.items())) or "none"
    nodes_text = ", ".join(f"{v} {status_word(k)}" for k, v in sorted(nodes.items())) or "none"
    return f"nodes: {nodes_text} | people: {people_text} | reached: {counts.get('reached', 0)}"


def header(view: dict[str, Any]) -> Text:
    text = Text()
    text.append(f"activation {view.get('id')} (ref {view.get('ref')}) ", style="bold")
    text.append(f"{view.get('tree')} {view.get('kind')} ")
    text.append_text(_status(str(view.get("status", ""))))
    text.append(f"  started {_time(view.get('started_at'))} UTC by {view.get('started_by')}")
    if view.get("completed_at"):
        text.append(f", completed {_time(view.get('completed_at'))} UTC")
    return text


def activation_tree(view: dict[str, Any]) -> RenderableType:
    """The activation's nodes as a tree (children under their parent), people under each node."""
    root = Tree(header(view))
    stack: list[tuple[int, Tree]] = [(-1, root)]
    for node in view.get("nodes", []):
        level = int(node.get("level", 0))
        while len(stack) > 1 and stack[-1][0] >= level:
            stack.pop()
        label = Text()
        label.append(str(node.get("label") or node.get("key")), style="bold")
        label.append(" ")
        label.append_text(_status(str(node.get("status", ""))))
        branch = stack[-1][1].add(label)
        for person in node.get("people", []):
            branch.add(_person_line(person))
        stack.append((level, branch))
    lines: list[RenderableType] = [root, Text(counts_line(view))]
    if view.get("alerts"):
        lines.append(Text(alerts_line(view)))
    if view.get("resolution"):
        lines.append(Text(f"resolved: {view['resolution']}"))
    return Group(*lines)


def alerts_line(view: dict[str, Any]) -> str:
    """"alerts: 1 started, 49 joined, 200 duplicate; 50 still firing"."""
    alerts: dict[str, int] = dict(view.get("alerts", {}))
    firing = alerts.pop("firing", None)
    order = ("started", "joined", "duplicate", "suppressed", "resolved")
    text = ", ".join(f"{alerts[k]} {k}" for k in order if alerts.get(k)) or "none"
    return f"alerts: {text}" + (f"; {firing} still firing" if firing is not None else "")


def alerts_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("received (UTC)", "source", "outcome", "service", "severity", "ref", "summary", "why"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            _time(row.get("received_at")),
            str(row.get("source", "")),
            _status(str(row.get("outcome", ""))),
            str(row.get("service") or ""),
            str(row.get("severity") or ""),
            str(row.get("ref") or ""),
            str(row.get("summary") or ""),
            str(row.get("detail") or ""),
        )
    return table
