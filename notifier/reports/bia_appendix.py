"""The business impact analysis and alternate-sites appendices, in HTML and Markdown.

NIST SP 800-34 Rev.1 App. B (BIA template): per system, the MTD, RTO and RPO in hours with their
drivers, the mission/business processes with their impact per organisation-defined category, the
system resources in recovery-priority order and the manual work-arounds. App. F (moderate and high
templates): alternate storage, alternate site and alternate telecommunications, each with its points
of contact and the people authorised to use it. Both formats are built from the same rows
(`bia_rows`, `site_rows`...), whose field lists are `BIA_FIELDS` and `SITE_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from notifier.domain.plan import ChannelKind, Plan, Service, Site

Row = dict[str, str]

BIA_FIELDS: tuple[tuple[str, str], ...] = (
    ("service", "Service"),
    ("classification", "Classification"),
    ("bia_date", "BIA date"),
    ("mtd_hours", "MTD (hours)"),
    ("rto_tier", "RTO tier"),
    ("rto_hours", "RTO (hours)"),
    ("rpo_tier", "RPO tier"),
    ("rpo_hours", "RPO (hours)"),
    ("recovery_priority", "Recovery priority"),
    ("strategy", "Recovery strategy"),
    ("owner_role", "Owner role"),
    ("recovery_team", "Recovery team"),
    ("dependencies", "Depends on"),
    ("drivers", "Drivers (MTD / RTO / RPO)"),
)
PROCESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("service", "Service"),
    ("process", "Mission/business process"),
    ("impacts", "Impact by category"),
    ("mtd_hours", "Process MTD (hours)"),
)
RESOURCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("service", "Service"),
    ("recovery_priority", "Recovery priority"),
    ("component", "System resource/component"),
    ("platform", "Platform"),
    ("rto_hours", "RTO (hours)"),
    ("site", "Site"),
)
WORKAROUND_FIELDS: tuple[tuple[str, str], ...] = (
    ("service", "Service"),
    ("workaround", "Manual work-around"),
)
SITE_FIELDS: tuple[tuple[str, str], ...] = (
    ("site", "Site"),
    ("purpose", "Purpose"),
    ("readiness", "Readiness"),
    ("provider", "Provider / vendor"),
    ("agreement", "Agreement"),
    ("address", "Location"),
    ("backs_up", "Stands in for"),
    ("contacts", "Points of contact"),
    ("authorised_roles", "Authorised to use it"),
)


def _num(value: float | int | None) -> str:
    return "-" if value is None else f"{value:g}"


def _name(service: Service) -> str:
    return service.name if service.name == service.id else f"{service.name} ({service.id})"


def _priority(service: Service) -> tuple[int, str]:
    return (service.recovery_priority or 10**6, service.id)


def bia_rows(plan: Plan) -> list[Row]:
    """One row per service, in recovery-priority order (services without a priority last)."""
    rows = []
    for s in sorted(plan.services, key=_priority):
        drivers = " / ".join(
            text or "-" for text in (s.drivers.mtd or s.mtd_note, s.drivers.rto, s.drivers.rpo)
        )
        rows.append(
            {
                "service": _name(s),
                "classification": s.classification.value if s.classification else "-",
                "bia_date": s.bia_date.isoformat() if s.bia_date else "-",
                "mtd_hours": _num(s.mtd_hours),
                "rto_tier": _num(s.rto_tier),
                "rto_hours": _num(s.rto_hours),
                "rpo_tier": _num(s.rpo_tier) if s.rpo_tier is not None else "N/A",
                "rpo_hours": _num(s.rpo_hours),
                "recovery_priority": _num(s.recovery_priority),
                "strategy": s.strategy or "-",
                "owner_role": s.owner_role or "-",
                "recovery_team": s.recovery_team or "-",
                "dependencies": ", ".join(s.dependencies) or "-",
                "drivers": drivers,
            }
        )
    return rows


def process_rows(plan: Plan) -> list[Row]:
    return [
        {
            "service": _name(s),
            "process": p.name,
            "impacts": "; ".join(f"{category}: {value}" for category, value in p.impacts.items()) or "-",
            "mtd_hours": _num(p.mtd_hours),
        }
        for s in plan.services
        for p in s.processes
    ]


def resource_rows(plan: Plan) -> list[Row]:
    rows = [
        (r.recovery_priority or 10**6, s.id, r.component, s, r) for s in plan.services for r in s.resources
    ]
    return [
        {
            "service": _name(s),
            "recovery_priority": _num(r.recovery_priority),
            "component": r.component,
            "platform": r.platform or "-",
            "rto_hours": _num(r.rto_hours),
            "site": r.site or "-",
        }
        for *_, s, r in sorted(rows, key=lambda t: t[:3])
    ]


def workaround_rows(plan: Plan) -> list[Row]:
    return [{"service": _name(s), "workaround": w} for s in plan.services for w in s.workarounds]


def _contact(plan: Plan, person_id: str) -> str:
    person = plan.person(person_id)
    if person is None:
        return person_id
    phones = [m.address for m in person.contacts if m.kind is not ChannelKind.EMAIL]
    return f"{person.name}: {', '.join(dict.fromkeys(phones)) or 'no phone'}"


def site_rows(plan: Plan) -> list[Row]:
    """Every site, the NIST App. F alternates first."""
    order = {"alternate_site": 0, "alternate_storage": 1, "alternate_telecom": 2, "primary": 3}

    def row(site: Site) -> Row:
        vendor = next((v for v in plan.vendors if v.id == site.vendor), None)
        roles = [r.name for rid in site.authorised_roles if (r := plan.role(rid)) is not None]
        return {
            "site": f"{site.name} ({site.id})",
            "purpose": site.purpose.value.replace("_", " "),
            "readiness": site.readiness or "-",
            "provider": " / ".join(x for x in (site.provider, vendor.name if vendor else "") if x) or "-",
            "agreement": site.agreement or "-",
            "address": site.address or "-",
            "backs_up": ", ".join(site.backs_up) or "-",
            "contacts": "; ".join(_contact(plan, p) for p in site.contacts) or "-",
            "authorised_roles": ", ".join(roles) or "-",
        }

    return [row(s) for s in sorted(plan.sites, key=lambda s: order[s.purpose.value])]


def _html_table(fields: Sequence[tuple[str, str]], rows: list[Row], caption: str) -> str:
    if not rows:
        return f"<p>{escape(caption)}: none recorded.</p>"
    head = "".join(f"<th>{escape(title)}</th>" for _, title in fields)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(row[key])}</td>" for key, _ in fields) + "</tr>" for row in rows
    )
    caption_html = f"<caption>{escape(caption)}</caption>"
    return f"<table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _md_table(fields: Sequence[tuple[str, str]], rows: list[Row], caption: str) -> str:
    if not rows:
        return f"{caption}: none recorded.\n"
    lines = [f"**{caption}**", "", "| " + " | ".join(t for _, t in fields) + " |"]
    lines.append("|" + "---|" * len(fields))
    lines += ["| " + " | ".join(_md_cell(row[k]) for k, _ in fields) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _categories(plan: Plan) -> list[Row]:
    return [
        {"category": name, "values": "; ".join(f"{k}: {v}" for k, v in c.values.items()) or "-"}
        for name, c in plan.organisation.impact_categories.items()
    ]


_CATEGORY_FIELDS = (("category", "Impact category"), ("values", "Values"))


def _sections(plan: Plan) -> list[tuple[Sequence[tuple[str, str]], list[Row], str]]:
    return [
        (_CATEGORY_FIELDS, _categories(plan), "Impact categories"),
        (BIA_FIELDS, bia_rows(plan), "Services: MTD, RTO and RPO, in recovery-priority order"),
        (PROCESS_FIELDS, process_rows(plan), "Mission/business processes and their impact"),
        (RESOURCE_FIELDS, resource_rows(plan), "System resources in recovery-priority order"),
        (WORKAROUND_FIELDS, workaround_rows(plan), "Manual work-arounds"),
    ]


def bia_html(plan: Plan) -> str:
    return "".join(_html_table(f, rows, caption) for f, rows, caption in _sections(plan))


def sites_html(plan: Plan) -> str:
    return _html_table(SITE_FIELDS, site_rows(plan), "Alternate storage, site and telecommunications")


CONTROL_FIELDS: tuple[tuple[str, str], ...] = (("item", "Plan control"), ("value", "Record"))
DISTRIBUTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("holder", "Copy held by"),
    ("label", "Copy"),
    ("issued", "Issued"),
    ("acknowledged", "Receipt acknowledged"),
)


def _holder(plan: Plan, holder_id: str) -> str:
    role = plan.role(holder_id)
    if role is not None:
        person = plan.person(role.primary) if role.primary else None
        return f"{role.name} ({person.name})" if person else role.name
    person = plan.person(holder_id)
    return person.name if person else holder_id


def control_rows(plan: Plan) -> list[Row]:
    """The NIST Plan Approval section: who approved it, when it was last reviewed and tested."""
    gov = plan.organisation.governance
    approval = gov.approval
    approved = "not approved"
    if approval is not None:
        approved = (
            f"{_holder(plan, approval.role)}: {_holder(plan, approval.person)}, {approval.date.isoformat()}"
        )
    tested = "; ".join(f"{tree}: {day.isoformat()}" for tree, day in sorted(gov.last_tested.items()))
    policy = plan.organisation.review_policy
    return [
        {"item": "Approved by", "value": approved},
        {"item": "Last reviewed", "value": gov.last_reviewed.isoformat() if gov.last_reviewed else "never"},
        {"item": "Last tested (per call tree)", "value": tested or "never"},
        {
            "item": "Review policy",
            "value": f"plan every {policy.plan_review_days} days, contacts every "
            "{policy.contact_review_days} "
            f"days, each call tree drilled every {policy.tree_test_days} days",
        },
    ]


def distribution_rows(plan: Plan) -> list[Row]:
    return [
        {
            "holder": _holder(plan, e.holder),
            "label": e.label or "-",
            "issued": e.issued.isoformat() if e.issued else "-",
            "acknowledged": e.acknowledged.isoformat() if e.acknowledged else "NOT ACKNOWLEDGED",
        }
        for e in plan.organisation.governance.distribution
    ]


def control_html(plan: Plan) -> str:
    return _html_table(CONTROL_FIELDS, control_rows(plan), "Plan approval, review and test") + _html_table(
        DISTRIBUTION_FIELDS, distribution_rows(plan), "Distribution list"
    )


def bia_and_sites_markdown(plan: Plan) -> str:
    """The BIA, sites and plan-control appendices as one Markdown document."""
    parts = [
        f"# {plan.organisation.name}: BIA and alternate sites appendices",
        "",
        "## Business impact analysis",
        "",
    ]
    parts += [_md_table(f, rows, caption) for f, rows, caption in _sections(plan)]
    parts += [
        "## Alternate storage, site and telecommunications",
        "",
        _md_table(SITE_FIELDS, site_rows(plan), "Sites"),
        "## Plan control",
        "",
        _md_table(CONTROL_FIELDS, control_rows(plan), "Plan approval, review and test"),
        _md_table(DISTRIBUTION_FIELDS, distribution_rows(plan), "Distribution list"),
    ]
    return "\n".join(parts)
