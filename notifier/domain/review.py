"""What a NIST SP 800-34 reviewer would flag in a plan that is otherwise valid.

`references.py` rejects plans that cannot work (a role naming a person who does not exist). This
module looks for plans that work but are weak or contradict themselves: a team leader with nobody
to stand in, a contact list nobody has checked for months, a recovery strategy slower than the RTO
it is meant to meet. Each check is a small function returning `Finding`s whose `path` points into
the plan or call-tree data, so the CLI can turn it into `file:line:column`.

Severities: `error` - the plan contradicts itself or leaves nobody to call (a reviewer would not
sign it off); `warning` - NIST asks for it and it is missing; `info` - worth a look.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from notifier.domain.calltree import Node, TreeSet
from notifier.domain.plan import ChannelKind, Classification, Person, Plan, Service

Severity = Literal["error", "warning", "info"]
Source = Literal["plan", "trees"]
PathPart = str | int

SEVERITY_ORDER: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}

NIST_ALTERNATE = 'NIST SP 800-34: "Team leaders should have a designated alternate"'
NIST_NUMBERS = 'NIST SP 800-34: "at least one office and one non-office contact number is recommended"'
NIST_RTO_MTD = 'NIST SP 800-34: "the RTO must normally be shorter than the MTD"'
NIST_VENDOR = 'NIST SP 800-34 vendor contact list: "contractual response and onsite times"'


@dataclass(frozen=True)
class Finding:
    """One thing to fix. `path` is a field path into the plan or the merged call-tree set."""

    code: str
    severity: Severity
    source: Source
    path: tuple[PathPart, ...]
    subject: str
    message: str


def review_plan(plan: Plan, trees: TreeSet | None, today: date) -> list[Finding]:
    """Every finding for `plan` (and `trees`, when given), most severe first, then by check."""
    findings: list[Finding] = []
    for check in _PLAN_CHECKS:
        findings.extend(check(plan, today))
    if trees is not None:
        for tree_check in _TREE_CHECKS:
            findings.extend(tree_check(plan, trees))
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.source != "plan"))


# --- roles and people -------------------------------------------------------------------------


def _lead_roles(plan: Plan) -> dict[str, str]:
    """Role id -> why it leads (team lead, organisation coordinator...)."""
    leads: dict[str, str] = {}
    for team in plan.teams:
        leads.setdefault(team.lead, f"leads team {team.id}")
    org = plan.organisation
    if org.coordinator_role:
        leads.setdefault(org.coordinator_role, "is the organisation's coordinator role")
    if org.plan_owner_role:
        leads.setdefault(org.plan_owner_role, "owns the plan")
    return leads


def check_role_alternates(plan: Plan, today: date) -> Iterator[Finding]:
    """Roles nobody holds, and roles with no alternate (a warning for leaders, info otherwise)."""
    leads = _lead_roles(plan)
    for index, role in enumerate(plan.roles):
        if not role.holders:
            message = f"role {role.id} has no primary and no alternates: assign someone to hold it"
            yield Finding("role-no-holder", "error", "plan", ("roles", index), role.id, message)
        elif not role.alternates and role.id in leads:
            message = (
                f"role {role.id} {leads[role.id]} but has no alternate: designate one ({NIST_ALTERNATE})"
            )
            yield Finding("lead-no-alternate", "warning", "plan", ("roles", index), role.id, message)
        elif not role.alternates:
            message = f"role {role.id} has no alternate: consider designating one so the role can be reached"
            yield Finding("role-no-alternate", "info", "plan", ("roles", index), role.id, message)


def _phone_labels(person: Person) -> tuple[bool, bool]:
    """(has an office number, has a non-office number)."""
    phones = [c for c in person.contacts if c.kind is not ChannelKind.EMAIL]
    return any(c.label.is_office for c in phones), any(not c.label.is_office for c in phones)


def check_contact_numbers(plan: Plan, today: date) -> Iterator[Finding]:
    """Staff need one office and one non-office number: a disaster may empty the office."""
    for index, person in enumerate(plan.people):
        if person.affiliation:
            continue  # vendor points of contact are judged by the vendor contact list rules
        office, non_office = _phone_labels(person)
        missing = [name for name, present in (("office", office), ("non-office", non_office)) if not present]
        if missing:
            message = (
                f"person {person.id} has no {' and no '.join(missing)} phone number: add one ({NIST_NUMBERS})"
            )
            yield Finding(
                "contact-numbers", "warning", "plan", ("people", index, "contacts"), person.id, message
            )


def check_last_verified(plan: Plan, today: date) -> Iterator[Finding]:
    """Contact data goes stale faster than the plan: NIST asks for more frequent review."""
    limit = plan.organisation.review_policy.contact_review_days
    for index, person in enumerate(plan.people):
        if person.last_verified is None:
            message = (
                f"person {person.id} has no last_verified date: "
                "verify the contact details and record the date"
            )
            yield Finding("contact-unverified", "warning", "plan", ("people", index), person.id, message)
            continue
        age = (today - person.last_verified).days
        if age > limit:
            message = (
                f"contact details of {person.id} were last verified {age} days ago "
                f"(review policy: every {limit} days): verify them and update last_verified"
            )
            yield Finding(
                "contact-stale", "warning", "plan", ("people", index, "last_verified"), person.id, message
            )


def check_people_without_role(plan: Plan, today: date) -> Iterator[Finding]:
    """Staff who hold no role are never reached by a role-based call tree."""
    holders = {holder for role in plan.roles for holder in role.holders}
    vendor_contacts = {contact for vendor in plan.vendors for contact in vendor.contacts}
    for index, person in enumerate(plan.people):
        if person.affiliation or person.id in holders or person.id in vendor_contacts:
            continue
        message = f"person {person.id} holds no role: assign a role or remove the entry"
        yield Finding("person-no-role", "info", "plan", ("people", index), person.id, message)


# --- services (business impact analysis) ------------------------------------------------------


def _hours(value: float) -> str:
    return f"{value:g} h"


def check_strategy_meets_rto(plan: Plan, today: date) -> Iterator[Finding]:
    """A strategy whose fastest recovery is not faster than the RTO tier's limit cannot meet it."""
    org = plan.organisation
    for index, service in enumerate(plan.services):
        tier = org.rto_tiers.get(service.rto_tier) if service.rto_tier is not None else None
        strategy = org.strategies.get(service.strategy) if service.strategy else None
        if tier is None or strategy is None or tier.max_hours is None:
            continue
        if strategy.min_recovery_hours >= tier.max_hours:
            message = (
                f"service {service.id} has RTO tier {service.rto_tier} (under {_hours(tier.max_hours)}) "
                f"but strategy {service.strategy} recovers in {_hours(strategy.min_recovery_hours)} or more: "
                "choose a faster strategy or a later RTO tier"
            )
            yield Finding(
                "bia-strategy-slower-than-rto",
                "error",
                "plan",
                ("services", index, "strategy"),
                service.id,
                message,
            )


def check_rto_within_mtd(plan: Plan, today: date) -> Iterator[Finding]:
    """An RTO tier that starts after the maximum tolerable downtime contradicts the BIA."""
    for index, service in enumerate(plan.services):
        if service.mtd_hours is None or service.rto_tier is None:
            continue
        tier = plan.organisation.rto_tiers.get(service.rto_tier)
        if tier is not None and tier.min_hours > service.mtd_hours:
            message = (
                f"service {service.id} tolerates {_hours(service.mtd_hours)} of downtime but RTO tier "
                f"{service.rto_tier} starts at {_hours(tier.min_hours)}: choose an RTO tier within the MTD "
                f"({NIST_RTO_MTD})"
            )
            yield Finding(
                "bia-rto-exceeds-mtd", "error", "plan", ("services", index, "rto_tier"), service.id, message
            )


def _is_essential(service: Service) -> bool:
    return service.classification in (Classification.CRITICAL, Classification.STRATEGIC)


def check_rpo_for_urgent_services(plan: Plan, today: date) -> Iterator[Finding]:
    """A tier-1 or strategic service usually needs tier-1 data recovery too."""
    for index, service in enumerate(plan.services):
        urgent = service.rto_tier == 1 or service.classification is Classification.STRATEGIC
        if urgent and service.rpo_tier != 1:
            rpo = "no RPO tier" if service.rpo_tier is None else f"RPO tier {service.rpo_tier}"
            message = (
                f"service {service.id} needs fast recovery (RTO tier {service.rto_tier}, "
                f"{service.classification or 'unclassified'}) but has {rpo}: "
                "confirm the data loss it tolerates"
            )
            yield Finding(
                "bia-rpo-tier", "info", "plan", ("services", index, "rpo_tier"), service.id, message
            )


def check_service_ownership(plan: Plan, today: date) -> Iterator[Finding]:
    """Critical and strategic services need someone to decide and a team to recover them."""
    for index, service in enumerate(plan.services):
        if not _is_essential(service):
            continue
        label = service.classification.value if service.classification else ""
        if not service.owner_role:
            message = (
                f"{label} service {service.id} has no owner_role: name the role that decides on its recovery"
            )
            yield Finding("service-no-owner", "warning", "plan", ("services", index), service.id, message)
        if not service.recovery_team:
            message = f"{label} service {service.id} has no recovery_team: name the team that recovers it"
            yield Finding(
                "service-no-recovery-team", "warning", "plan", ("services", index), service.id, message
            )


def normalise_name(name: str) -> str:
    """`SPEED-ECN`, `speed ecn` and `Speed_ECN` are the same name to a person reading an alert."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def check_duplicate_services(plan: Plan, today: date) -> Iterator[Finding]:
    """Two services an alert could name the same way: the alert reaches only the first of them."""
    first_owner: dict[str, int] = {}
    for index, service in enumerate(plan.services):
        names: list[tuple[tuple[PathPart, ...], str]] = [
            (("services", index, "id"), service.id),
            (("services", index, "name"), service.name),
        ]
        names += [(("services", index, "aliases", n), alias) for n, alias in enumerate(service.aliases)]
        reported: set[int] = set()
        for path, name in names:
            key = normalise_name(name)
            if not key:
                continue
            owner = first_owner.setdefault(key, index)
            if owner != index and owner not in reported:
                reported.add(owner)
                other = plan.services[owner]
                message = (
                    f"service {service.id} is also called {name!r}, like service {other.id}: "
                    "likely a duplicate service; merge the entries or rename one so alerts reach "
                    "the right service"
                )
                yield Finding("service-duplicate", "warning", "plan", path, service.id, message)


# --- vendors ----------------------------------------------------------------------------------


def check_vendors(plan: Plan, today: date) -> Iterator[Finding]:
    """The vendor contact list needs people to call and the SLA times a drill is judged against."""
    for index, vendor in enumerate(plan.vendors):
        if not vendor.contacts:
            message = f"vendor {vendor.id} has no contacts: add an emergency point of contact"
            yield Finding("vendor-no-contact", "warning", "plan", ("vendors", index), vendor.id, message)
        missing = [
            name
            for name, value in (
                ("sla_response_hours", vendor.sla_response_hours),
                ("sla_onsite_hours", vendor.sla_onsite_hours),
            )
            if value is None
        ]
        if missing:
            message = (
                f"vendor {vendor.id} has no {' or '.join(missing)}: "
                f"record the contractual times ({NIST_VENDOR})"
            )
            yield Finding("vendor-no-sla", "warning", "plan", ("vendors", index), vendor.id, message)


# --- call trees -------------------------------------------------------------------------------


def check_tree_coordinators(plan: Plan, trees: TreeSet) -> Iterator[Finding]:
    """The coordinator hears about every unreachable branch; nobody may stand behind one person."""
    for index, tree in enumerate(trees.calltrees):
        role_id = tree.coordinator_role or plan.organisation.coordinator_role
        role = plan.role(role_id) if role_id else None
        if role is None or role.alternates:
            continue
        source: Source = "trees" if tree.coordinator_role else "plan"
        path: tuple[PathPart, ...] = ("calltrees", index, "coordinator_role")
        if not tree.coordinator_role:
            path = ("organisation", "coordinator_role")
        message = (
            f"call tree {tree.id} reports to coordinator role {role.id}, which has no alternate: "
            f"designate one ({NIST_ALTERNATE})"
        )
        yield Finding("tree-coordinator-no-alternate", "warning", source, path, tree.id, message)


def _walk(nodes: tuple[Node, ...]) -> Iterator[Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def roles_in_trees(plan: Plan, trees: TreeSet) -> set[str]:
    """Every role a tree can reach: role nodes, team nodes (lead and members), coordinators."""
    used: set[str] = set()
    for tree in trees.calltrees:
        if tree.coordinator_role:
            used.add(tree.coordinator_role)
        for node in _walk(tree.nodes):
            kind, target = node.target
            if kind == "role":
                used.add(target)
            elif kind == "team" and (team := plan.team(target)) is not None:
                used.update((team.lead, *team.members))
    if plan.organisation.coordinator_role:
        used.add(plan.organisation.coordinator_role)
    return used


def check_unused_roles(plan: Plan, trees: TreeSet) -> Iterator[Finding]:
    """A role no call tree reaches is never notified, however well it is staffed."""
    used = roles_in_trees(plan, trees)
    for index, role in enumerate(plan.roles):
        if role.id not in used:
            message = f"role {role.id} is in no call tree: add it to a tree or remove it"
            yield Finding("role-unused", "info", "plan", ("roles", index), role.id, message)


_PLAN_CHECKS: tuple[Callable[[Plan, date], Iterator[Finding]], ...] = (
    check_strategy_meets_rto,
    check_rto_within_mtd,
    check_rpo_for_urgent_services,
    check_service_ownership,
    check_duplicate_services,
    check_role_alternates,
    check_contact_numbers,
    check_last_verified,
    check_people_without_role,
    check_vendors,
)
_TREE_CHECKS: tuple[Callable[[Plan, TreeSet], Iterator[Finding]], ...] = (
    check_tree_coordinators,
    check_unused_roles,
)
