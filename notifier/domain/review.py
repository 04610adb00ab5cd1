"""What a NIST SP 800-34 reviewer would flag in a plan that is otherwise valid.

`references.py` rejects plans that cannot work (a role naming a person who does not exist). This
module and the rule modules it runs look for plans that work but are weak or contradict
themselves: a team leader with nobody to stand in, a contact list nobody has checked for months, a
recovery strategy slower than the RTO it is meant to meet, a call tree that cannot finish within
its time limit. Each rule is a small function returning `Finding`s whose `path` points into the
plan or call-tree data, so the CLI can turn it into `file:line:column`.

Severities: `error` - the plan contradicts itself or leaves nobody to call when it matters (a
reviewer would not sign it off); `warning` - NIST asks for it and it is missing; `info` - worth a
look. Codes are stable: CI jobs and `--fail-on` rely on them (`RULES` lists every code).

The rules by area: `review_people.py` (roles, alternates, contact data, standing roles, review
policy), `review_bia.py` (BIA, vendors, alternate sites), `review_trees.py` (time limits, worst
case, policies, tree structure), `review_governance.py` (approval, review, tests, distribution).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date

from notifier.domain import review_bia, review_governance, review_people, review_trees
from notifier.domain.calltree import TreeSet
from notifier.domain.findings import SEVERITY_ORDER as SEVERITY_ORDER
from notifier.domain.findings import FieldPath, Review
from notifier.domain.findings import Finding as Finding
from notifier.domain.findings import Severity as Severity
from notifier.domain.plan import ChannelKind, Plan

#: Every code `plan check` can report, with what it means (docs/plan-check.md explains each).
RULES: dict[str, str] = {
    "role-no-holder": "a role nobody holds",
    "lead-no-alternate": "a leader role (team lead, coordinator, plan owner) without an alternate",
    "role-no-alternate": "another role without an alternate",
    "alternate-overloaded": "one person is the alternate of several leader roles",
    "alternate-same-site": "a role's primary and alternate work at the same site",
    "alternate-in-same-tree": "an alternate already holds another node of the same call tree",
    "contact-numbers": "staff without one office and one non-office phone number",
    "contact-duplicate-number": "the office number entered again as mobile or home",
    "contact-business-hours-only": "every contact method limited to business hours",
    "contact-unverified": "contact details never verified",
    "contact-stale": "contact details verified longer ago than the review policy allows",
    "contact-verified-in-future": "a verification date in the future",
    "person-no-role": "staff who hold no role",
    "org-no-coordinator": "no coordinator role",
    "org-no-plan-owner": "no plan-owner role",
    "review-policy-too-long": "a review policy longer than NIST allows",
    "bia-no-rto": "a critical, strategic or tier-1 service without an RTO",
    "bia-no-strategy": "a critical, strategic or tier-1 service without a recovery strategy",
    "service-no-owner": "a critical, strategic or tier-1 service without an owner role",
    "service-no-recovery-team": "a critical, strategic or tier-1 service without a recovery team",
    "bia-strategy-slower-than-rto": "a strategy whose fastest recovery is not within the RTO",
    "bia-strategy-may-miss-rto": "a strategy whose slowest recovery exceeds the RTO",
    "bia-strategy-no-time": "a strategy that states no recovery time",
    "bia-rto-exceeds-mtd": "an RTO (or RTO tier) that can exceed the MTD",
    "bia-rto-equals-mtd": "an RTO equal to the MTD",
    "bia-rto-hours-outside-tier": "rto_hours outside the service's RTO tier",
    "bia-rpo-hours-outside-tier": "rpo_hours outside the service's RPO tier",
    "bia-rpo-tier": "a tier-1 or strategic service without tier-1 RPO",
    "bia-dependency-slower": "a dependency that recovers later than the service needing it",
    "service-duplicate": "two services an alert could name the same way",
    "vendor-no-contact": "a vendor without a point of contact",
    "vendor-contact-email-only": "a vendor reachable only by e-mail",
    "vendor-no-contract": "a vendor without a contract number",
    "vendor-no-sla": "a vendor without contractual response and on-site times",
    "vendor-sla-exceeds-rto": "a vendor's on-site time longer than the RTO of a service it supports",
    "site-no-alternate": "no alternate processing site, storage or telecommunications",
    "site-alternate-no-contact": "an alternate site without contacts or authorised roles",
    "tree-worst-case-exceeds-limit": "a call tree whose worst-case time exceeds its time limit",
    "tree-limit-exceeds-rto": "a call tree whose time limit exceeds the RTO of a service routed to it",
    "tree-worst-case-exceeds-rto": "a call tree whose worst case exceeds the RTO of a service routed to it",
    "tree-coordinator-no-alternate": "a tree's coordinator role without an alternate",
    "tree-outage-assessment-late": "the outage assessment team is not notified first",
    "policy-email-only": "an escalation policy that only sends e-mail",
    "policy-no-alternates": "an escalation policy that never tries alternates",
    "role-unused": "a role no call tree reaches",
    "plan-not-approved": "no plan approval (role, person, date)",
    "plan-approval-not-holder": "the approver does not hold the approving role",
    "plan-never-reviewed": "no last-reviewed date",
    "plan-review-overdue": "the last review is older than the review policy allows",
    "tree-untested": "a call tree never tested, or not within tree_test_days",
    "plan-no-distribution": "no distribution list",
    "distribution-unacknowledged": "a copy of the plan whose receipt was not acknowledged",
}


def review_plan(
    plan: Plan,
    trees: TreeSet | None,
    today: date,
    drills: Mapping[str, date] | None = None,
    rates: Mapping[ChannelKind, float] | None = None,
) -> list[Finding]:
    """Every finding for `plan` (and `trees`, when given), most severe first, then by rule.

    `drills` maps a call-tree id to the day of its latest drill in the daemon's store; it counts as
    the tree's last test when newer than the plan's own record. `rates` (messages per second per
    channel, all senders together) add queueing to each tree's worst case.
    """
    review = Review(plan, trees, today, drills or {}, rates or {})
    findings: list[Finding] = []
    for check in PLAN_CHECKS:
        findings.extend(check(review))
    if trees is not None:
        for tree_check in TREE_CHECKS:
            findings.extend(tree_check(review))
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.source != "plan"))


def normalise_name(name: str) -> str:
    """`SPEED-ECN`, `speed ecn` and `Speed_ECN` are the same name to a person reading an alert."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def check_duplicate_services(r: Review) -> Iterator[Finding]:
    """Two services an alert could name the same way: the alert reaches only the first of them."""
    first_owner: dict[str, int] = {}
    for index, service in enumerate(r.plan.services):
        names: list[tuple[FieldPath, str]] = [
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
                other = r.plan.services[owner]
                message = (
                    f"service {service.id} is also called {name!r}, like service {other.id}: "
                    "likely a duplicate service; merge the entries or rename one so alerts reach "
                    "the right service"
                )
                yield Finding("service-duplicate", "warning", "plan", path, service.id, message)


Check = Callable[[Review], Iterator[Finding]]

PLAN_CHECKS: tuple[Check, ...] = (
    review_bia.check_service_essentials,
    review_bia.check_strategy_meets_rto,
    review_bia.check_rto_within_mtd,
    review_bia.check_hours_within_tiers,
    review_bia.check_rpo_for_urgent_services,
    review_bia.check_dependencies,
    check_duplicate_services,
    review_people.check_standing_roles,
    review_people.check_review_policy,
    review_people.check_role_alternates,
    review_people.check_overloaded_alternates,
    review_people.check_alternate_sites,
    review_people.check_contact_numbers,
    review_people.check_contact_hours,
    review_people.check_last_verified,
    review_people.check_people_without_role,
    review_bia.check_vendors,
    review_bia.check_alternate_sites,
    review_governance.check_approval,
    review_governance.check_review_dates,
    review_governance.check_distribution,
)
TREE_CHECKS: tuple[Check, ...] = (
    review_trees.check_tree_times,
    review_trees.check_policies,
    review_trees.check_tree_coordinators,
    review_trees.check_outage_assessment_first,
    review_trees.check_alternates_in_same_tree,
    review_trees.check_unused_roles,
    review_governance.check_trees_tested,
)
