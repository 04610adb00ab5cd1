"""Printable plan appendices: contact lists, call trees, record of changes, BIA and alternate sites.

NIST SP 800-34 Rev.1 asks for these as plan appendices (templates App. A and B, §3.6 Table 3-7),
and continuity managers still file a printed copy: the binder is what is left when the systems are
down. So the output is one self-contained HTML file (no scripts, no external assets) with print
CSS: tables repeat their headers across pages and rows do not split.

Contact data is written in full, because reaching people is the appendix's purpose; the document
says on every page that it contains personal data. The record of changes keeps the masked change
descriptions of `plandiff` (a history line does not need the number itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from notifier.domain.calltree import CallTree, Node, TreeSet
from notifier.domain.plan import ChannelKind, ContactLabel, Person, Plan
from notifier.domain.plandiff import Change, ChangeKind
from notifier.reports.bia_appendix import bia_html, control_html, sites_html


@dataclass(frozen=True)
class VersionRecord:
    """One plan version as the record of changes shows it."""

    version: int
    created_at: datetime
    author: str
    comment: str
    changes: tuple[Change, ...]


CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; margin: 1.5em; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.6em; border-bottom: 1px solid #444; }
.pii { border: 2px solid #b22222; color: #b22222; padding: .3em .6em; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border: 1px solid #666; padding: .25em .4em; vertical-align: top; text-align: left; }
th { background: #e8e8e8; }
td.sub { width: 6em; color: #333; }
.tree, .tree ul { list-style: none; margin: 0; padding-left: 1.4em; }
.tree li { position: relative; padding: .2em 0 .2em .8em; border-left: 1px solid #555; }
.tree li:last-child { border-left-color: transparent; }
.tree li::before { content: ""; position: absolute; left: -1px; top: 0; width: .8em; height: 1em;
  border-left: 1px solid #555; border-bottom: 1px solid #555; }
.node { display: inline-block; border: 1px solid #333; border-radius: 3px; padding: .15em .5em; }
.node .who { color: #333; font-size: 9pt; }
.optional { border-style: dashed; }
footer { margin-top: 2em; font-size: 8pt; color: #555; }
@media print {
  body { margin: 0; }
  h2 { page-break-before: always; } h2.first { page-break-before: avoid; }
  thead { display: table-header-group; }
  tr, .tree li { page-break-inside: avoid; }
  .pii { position: running(header); }
}
@page { size: A4; margin: 15mm; @top-center { content: "Contains personal data"; } }
"""

PII_NOTICE = (
    "Contains personal data (personally identifiable information): keep this document protected, "
    "give it only to the people on the plan's distribution list, and return or destroy old copies."
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _phones(person: Person, label: ContactLabel) -> list[str]:
    seen: list[str] = []
    for method in person.contacts:
        if method.kind is not ChannelKind.EMAIL and method.label is label and method.address not in seen:
            seen.append(method.address)
    return seen


def _emails(person: Person) -> list[str]:
    return [m.address for m in person.contacts if m.kind is ChannelKind.EMAIL]


def _contact_rows(person: Person) -> list[tuple[str, str]]:
    """The NIST sub-rows: Work | Home | Cellular | Email (plus Other when the plan has it)."""
    rows = [
        ("Work", ", ".join(_phones(person, ContactLabel.WORK))),
        ("Home", ", ".join(_phones(person, ContactLabel.HOME))),
        ("Cellular", ", ".join(_phones(person, ContactLabel.MOBILE))),
        ("Email", ", ".join(_emails(person))),
    ]
    other = _phones(person, ContactLabel.OTHER)
    if other:
        rows.append(("Other", ", ".join(other)))
    return rows


def _personnel_block(plan: Plan, position: str, person: Person) -> str:
    site = next((s for s in plan.sites if s.id == person.site), None)
    key = [f"<strong>{_e(position)}</strong>", _e(person.name)]
    if person.title:
        key.append(_e(person.title))
    if site:
        key.append(_e(", ".join(x for x in (site.name, site.address) if x)))
    verified = person.last_verified.isoformat() if person.last_verified else "never"
    key.append(f"<small>verified: {_e(verified)}</small>")
    rows = _contact_rows(person)
    out = [
        f'<tr><td rowspan="{len(rows)}">{"<br>".join(key)}</td>'
        f'<td class="sub">{rows[0][0]}</td><td>{_e(rows[0][1])}</td></tr>'
    ]
    out += [f'<tr><td class="sub">{label}</td><td>{_e(value)}</td></tr>' for label, value in rows[1:]]
    return "\n".join(out)


def personnel_list(plan: Plan) -> str:
    """Appendix A: every role, primary then alternates, then staff who hold no role."""
    head = '<tr><th>Key Personnel</th><th colspan="2">Contact Information</th></tr>'
    blocks: list[str] = []
    listed: set[str] = set()
    for role in plan.roles:
        for index, person_id in enumerate(role.holders):
            person = plan.person(person_id)
            if person is None:
                continue
            is_primary = index == 0 and role.primary is not None
            position = role.name if is_primary else f"{role.name} - Alternate"
            blocks.append(_personnel_block(plan, position, person))
            listed.add(person_id)
    for person in plan.people:
        if person.id not in listed and not person.affiliation:
            blocks.append(_personnel_block(plan, "(no role)", person))
    title = f"{_e(plan.organisation.name)} ISCP Key Personnel"
    return f"<table><caption>{title}</caption><thead>{head}</thead><tbody>{''.join(blocks)}</tbody></table>"


def _hours(value: float | None) -> str:
    return "not agreed" if value is None else f"{value:g} h"


def vendor_list(plan: Plan) -> str:
    """Appendix B: contract numbers, contractual response and on-site times, points of contact."""
    if not plan.vendors:
        return "<p>No vendors in the plan.</p>"
    rows = []
    for vendor in plan.vendors:
        contacts = []
        for person_id in vendor.contacts:
            person = plan.person(person_id)
            if person is None:
                continue
            phones = [m.address for m in person.contacts if m.kind is not ChannelKind.EMAIL]
            details = ", ".join(dict.fromkeys(phones + _emails(person)))
            contacts.append(
                f"{_e(person.name)}{' - ' + _e(person.title) if person.title else ''}: {_e(details)}"
            )
        services = ", ".join(s.name for sid in vendor.services if (s := plan.service(sid)) is not None)
        rows.append(
            f"<tr><td>{_e(vendor.name)}</td><td>{_e(vendor.contract_number or '-')}</td>"
            f"<td>{_e(services or '-')}</td><td>{_hours(vendor.sla_response_hours)}</td>"
            f"<td>{_hours(vendor.sla_onsite_hours)}</td><td>{'<br>'.join(contacts) or '-'}</td></tr>"
        )
    head = (
        "<tr><th>Vendor</th><th>Contract number</th><th>Services</th><th>SLA response</th>"
        "<th>SLA on-site</th><th>Points of contact</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _node_html(plan: Plan, node: Node) -> str:
    kind, target = node.target
    if kind == "role":
        role = plan.role(target)
        title = role.name if role else target
        holders = role.holders if role else ()
    elif kind == "team":
        team = plan.team(target)
        title = team.name if team else target
        lead = plan.role(team.lead) if team else None
        holders = lead.holders if lead else ()
    else:
        person = plan.person(target)
        title, holders = (person.name if person else target), (target,)
    names = [p.name for h in holders if (p := plan.person(h)) is not None]
    who = ""
    if names and kind != "person":
        who = (
            f'<br><span class="who">{_e(names[0])}'
            + (f" (alternates: {_e(', '.join(names[1:]))})" if names[1:] else "")
            + "</span>"
        )
    label = node.label or title
    css = "node" + ("" if node.required else " optional")
    children = "".join(f"<li>{_node_html(plan, child)}</li>" for child in node.children)
    nested = f"<ul>{children}</ul>" if children else ""
    return f'<span class="{css}">{_e(label)}{who}</span>{nested}'


def tree_diagram(plan: Plan, tree: CallTree) -> str:
    """A call tree as nested boxes and connectors (CSS only), with its rules above it."""
    minutes = int(tree.time_limit.total_seconds() // 60)
    rules = (
        f"mode: {tree.mode}, completion: {tree.completion.rule}"
        f"{f' {tree.completion.quorum}' if tree.completion.quorum else ''}, "
        f"prescribed time limit: {minutes} min, escalation policy: {tree.policy}"
    )
    items = "".join(f"<li>{_node_html(plan, node)}</li>" for node in tree.nodes)
    return (
        f"<h3>{_e(tree.name)} <small>({_e(tree.id)})</small></h3><p>{_e(rules)}</p>"
        f"{f'<p>{_e(tree.description)}</p>' if tree.description else ''}"
        f'<ul class="tree">{items}</ul><p><small>Dashed boxes: optional nodes.</small></p>'
    )


def signature(plan: Plan | None, author: str) -> str:
    """Who signed a change: a person id of the plan reads as their name and the roles they hold (NIST
    Table 3-7 asks for a signature, not a login); anything else is shown as recorded, marked so."""
    person = plan.person(author) if plan is not None else None
    if person is None:
        return f"{author} (not a person in the plan)"
    roles = [role.name for role in plan.roles if person.id in role.holders] if plan is not None else []
    return f"{person.name}, {', '.join(roles)}" if roles else person.name


def _local(moment: datetime, timezone: str) -> str:
    """A time on the organisation's wall clock, with its zone (`2026-10-20 14:05 CEST`)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def record_of_changes(history: Sequence[VersionRecord], plan: Plan | None = None) -> str:
    """Table 3-7: Page # | Change Comment | Date of Change | Signature, newest version first."""
    timezone = plan.organisation.timezone if plan is not None else "UTC"
    rows = []
    for record in sorted(history, key=lambda r: r.version, reverse=True):
        lines = [_e(record.comment)] if record.comment else []
        if (
            record.changes
            and all(c.kind is ChangeKind.ADDED for c in record.changes)
            and len(record.changes) > 20
        ):
            lines.append(f"{len(record.changes)} entries added")
        else:
            lines += [_e(change.describe()) for change in record.changes[:50]]
        if len(record.changes) > 50:
            lines.append(f"... and {len(record.changes) - 50} more changes")
        rows.append(
            f"<tr><td>Version {record.version}</td><td>{'<br>'.join(lines) or '-'}</td>"
            f"<td>{_local(record.created_at, timezone)}</td>"
            f"<td>{_e(signature(plan, record.author))}</td></tr>"
        )
    head = "<tr><th>Page #</th><th>Change Comment</th><th>Date of Change</th><th>Signature</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render_appendices(
    plan: Plan,
    trees: TreeSet | None,
    history: Iterable[VersionRecord],
    generated_at: datetime,
    version: int | None = None,
) -> str:
    """The whole appendix document as one HTML page."""
    org = plan.organisation
    diagrams = (
        "".join(tree_diagram(plan, tree) for tree in trees.calltrees)
        if trees and trees.calltrees
        else "<p>No call trees were given (pass the call-tree files with --calltrees).</p>"
    )
    stamp = _local(generated_at, org.timezone)
    which = f"plan version {version}" if version is not None else "plan"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(org.name)}: plan appendices</title>
<style>{CSS}</style></head><body>
<p class="pii">{_e(PII_NOTICE)}</p>
<h1>{_e(org.name)}: IT service continuity plan appendices</h1>
<p>From {_e(which)}, generated {stamp}. Contact details are to be reviewed every
{org.review_policy.contact_review_days} days; the plan every {org.review_policy.plan_review_days} days.</p>
<h2 class="first">Plan control</h2>
{control_html(plan)}
<h2>Appendix A: Personnel contact list</h2>
{personnel_list(plan)}
<h2>Appendix B: Vendor contact list</h2>
{vendor_list(plan)}
<h2>Appendix C: Call trees</h2>
{diagrams}
<h2>Appendix D: Record of changes</h2>
{record_of_changes(list(history), plan)}
<h2>Appendix E: Business impact analysis</h2>
{bia_html(plan)}
<h2>Appendix F: Alternate storage, site and telecommunications</h2>
{sites_html(plan)}
<footer>{_e(PII_NOTICE)}</footer>
</body></html>
"""
