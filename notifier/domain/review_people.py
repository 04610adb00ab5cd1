"""Review rules on who is called: roles and alternates, people's contact data, the organisation's
standing roles and review policy. See `review.py` for severities; each rule says why it matters."""

from __future__ import annotations

from collections.abc import Iterator

from notifier.domain.findings import NIST_ALTERNATE, NIST_NUMBERS, Finding, Review, Severity
from notifier.domain.plan import ChannelKind, Hours, Person

#: NIST SP 800-34 §3.6 and the policy sample: "reviewed annually" at least.
MAX_PLAN_REVIEW_DAYS = 365


def check_role_alternates(r: Review) -> Iterator[Finding]:
    """Roles nobody holds (error); leaders without an alternate (error: nobody can stand in when the
    leader is away, and the branch under them waits); other roles without an alternate (info)."""
    leads = r.lead_roles
    for index, role in enumerate(r.plan.roles):
        if not role.holders:
            message = f"role {role.id} has no primary and no alternates: assign someone to hold it"
            yield Finding("role-no-holder", "error", "plan", ("roles", index), role.id, message)
        elif not role.alternates and role.id in leads:
            message = (
                f"role {role.id} {leads[role.id]} but has no alternate: designate one ({NIST_ALTERNATE})"
            )
            yield Finding("lead-no-alternate", "error", "plan", ("roles", index), role.id, message)
        elif not role.alternates:
            message = f"role {role.id} has no alternate: consider designating one so the role can be reached"
            yield Finding("role-no-alternate", "info", "plan", ("roles", index), role.id, message)


def check_overloaded_alternates(r: Review) -> Iterator[Finding]:
    """One person standing in for several leaders cannot lead two teams at once in the same outage."""
    leads = r.lead_roles
    first: dict[str, tuple[int, int]] = {}
    standing_in: dict[str, list[str]] = {}
    for index, role in enumerate(r.plan.roles):
        if role.id not in leads:
            continue
        for k, person in enumerate(role.alternates):
            first.setdefault(person, (index, k))
            standing_in.setdefault(person, []).append(role.id)
    for person, roles in standing_in.items():
        if len(roles) >= 2:
            index, k = first[person]
            message = (
                f"person {person} is the alternate of {len(roles)} leader roles ({', '.join(roles)}): "
                "an outage that takes out two leaders leaves one of the teams without a leader; "
                "designate different alternates"
            )
            yield Finding(
                "alternate-overloaded", "warning", "plan", ("roles", index, "alternates", k), person, message
            )


def check_alternate_sites(r: Review) -> Iterator[Finding]:
    """A primary and alternate at the same site are lost together (NIST: an alternate team may come
    from another geographic area). A warning for leader roles, info for the others."""
    for index, role in enumerate(r.plan.roles):
        primary = r.plan.person(role.primary) if role.primary else None
        if primary is None or primary.site is None:
            continue
        for k, alternate_id in enumerate(role.alternates):
            alternate = r.plan.person(alternate_id)
            if alternate is None or alternate.site != primary.site:
                continue
            severity: Severity = "warning" if role.id in r.lead_roles else "info"
            message = (
                f"role {role.id}: primary {primary.id} and alternate {alternate_id} both work at site "
                f"{primary.site}: a site outage takes out both; choose an alternate at another site"
            )
            yield Finding(
                "alternate-same-site", severity, "plan", ("roles", index, "alternates", k), role.id, message
            )


def _office_and_other(person: Person) -> tuple[set[str], set[str]]:
    phones = [c for c in person.contacts if c.kind is not ChannelKind.EMAIL]
    office = {c.address for c in phones if c.label.is_office}
    return office, {c.address for c in phones if not c.label.is_office} - office


def check_contact_numbers(r: Review) -> Iterator[Finding]:
    """Staff need one office and one non-office number: a disaster may empty the office. The office
    number written again as `mobile` or `home` does not count as the non-office one."""
    for index, person in enumerate(r.plan.people):
        if person.affiliation:
            continue  # vendor points of contact are judged by the vendor contact list rules
        office, other = _office_and_other(person)
        for k, contact in enumerate(person.contacts):
            if (
                contact.kind is not ChannelKind.EMAIL
                and not contact.label.is_office
                and contact.address in office
            ):
                message = (
                    f"person {person.id}: the {contact.label.value} number is the office number again: "
                    "give a number that still works when the office is empty"
                )
                yield Finding(
                    "contact-duplicate-number",
                    "warning",
                    "plan",
                    ("people", index, "contacts", k),
                    person.id,
                    message,
                )
                break
        missing = [name for name, present in (("office", office), ("non-office", other)) if not present]
        if missing:
            message = (
                f"person {person.id} has no {' and no '.join(missing)} phone number: add one ({NIST_NUMBERS})"
            )
            yield Finding(
                "contact-numbers", "warning", "plan", ("people", index, "contacts"), person.id, message
            )


def check_contact_hours(r: Review) -> Iterator[Finding]:
    """Someone reachable only in business hours is unreachable for most of the week (NIST asks for
    "methods used to notify recovery personnel during business and non business hours")."""
    for index, person in enumerate(r.plan.people):
        if person.contacts and all(c.hours is Hours.BUSINESS for c in person.contacts):
            message = (
                f"person {person.id} can only be reached in business hours: add a contact method for "
                "nights and weekends (hours: always or after_hours)"
            )
            yield Finding(
                "contact-business-hours-only",
                "warning",
                "plan",
                ("people", index, "contacts"),
                person.id,
                message,
            )


def check_last_verified(r: Review) -> Iterator[Finding]:
    """Contact data goes stale faster than the plan: NIST asks for more frequent review. A date in
    the future is an error: it is wrong, and it hides the entry from the staleness check."""
    limit = r.plan.organisation.review_policy.contact_review_days
    for index, person in enumerate(r.plan.people):
        path = ("people", index, "last_verified")
        if person.last_verified is None:
            message = (
                f"person {person.id} has no last_verified date: verify the contact details and record the "
                f"date"
            )
            yield Finding("contact-unverified", "warning", "plan", ("people", index), person.id, message)
            continue
        age = (r.today - person.last_verified).days
        if age < 0:
            message = (
                f"contact details of {person.id} are dated {person.last_verified} ({-age} days in the "
                f"future): "
                "record the day they were actually verified"
            )
            yield Finding("contact-verified-in-future", "error", "plan", path, person.id, message)
        elif age > limit:
            message = (
                f"contact details of {person.id} were last verified {age} days ago "
                f"(review policy: every {limit} days): verify them and update last_verified"
            )
            yield Finding("contact-stale", "warning", "plan", path, person.id, message)


def check_people_without_role(r: Review) -> Iterator[Finding]:
    """Staff who hold no role are never reached by a role-based call tree."""
    holders = {holder for role in r.plan.roles for holder in role.holders}
    vendor_contacts = {contact for vendor in r.plan.vendors for contact in vendor.contacts}
    for index, person in enumerate(r.plan.people):
        if person.affiliation or person.id in holders or person.id in vendor_contacts:
            continue
        message = f"person {person.id} holds no role: assign a role or remove the entry"
        yield Finding("person-no-role", "info", "plan", ("people", index), person.id, message)


def check_standing_roles(r: Review) -> Iterator[Finding]:
    """Without a coordinator role nobody hears of unreachable nodes (error); without a plan owner
    nobody is told of contact changes (warning)."""
    org = r.plan.organisation
    if not org.coordinator_role:
        message = "the organisation names no coordinator_role: nobody is told when a node cannot be reached"
        yield Finding("org-no-coordinator", "error", "plan", ("organisation",), org.name, message)
    if not org.plan_owner_role:
        message = "the organisation names no plan_owner_role: nobody is told when contact details change"
        yield Finding("org-no-plan-owner", "warning", "plan", ("organisation",), org.name, message)


def check_review_policy(r: Review) -> Iterator[Finding]:
    """NIST: the plan is reviewed at least annually, contact lists more often than the plan."""
    policy = r.plan.organisation.review_policy
    base = ("organisation", "review_policy")
    if policy.plan_review_days > MAX_PLAN_REVIEW_DAYS:
        message = (
            f"plan_review_days is {policy.plan_review_days}: NIST SP 800-34 asks for a review at least "
            f"annually; use {MAX_PLAN_REVIEW_DAYS} days or less"
        )
        yield Finding(
            "review-policy-too-long", "warning", "plan", (*base, "plan_review_days"), "review_policy", message
        )
    if policy.contact_review_days > policy.plan_review_days:
        message = (
            f"contact_review_days ({policy.contact_review_days}) is longer than plan_review_days "
            f"({policy.plan_review_days}): NIST asks for contact lists to be reviewed more often than the "
            f"plan"
        )
        yield Finding(
            "review-policy-too-long",
            "warning",
            "plan",
            (*base, "contact_review_days"),
            "review_policy",
            message,
        )
