"""Review rules on the business impact analysis, the vendors and the sites (NIST SP 800-34 Rev.1
App. B and F; seed 000 Tables 3-1..3-5). RTO figures are the service's `rto_hours`, else the upper
bound of its RTO tier (`Review.rto_hours`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from notifier.domain.findings import (
    NIST_RTO_MTD,
    NIST_VENDOR,
    FieldPath,
    Finding,
    Review,
    Severity,
    hours,
    is_essential,
)
from notifier.domain.plan import ChannelKind, Classification, Service, SitePurpose, Tier


def _urgent(service: Service) -> bool:
    """Tier-1 or strategic: missing data here is an error, not a gap."""
    return service.rto_tier == 1 or service.classification is Classification.STRATEGIC


def _rto_path(service: Service, index: int) -> FieldPath:
    return ("services", index, "rto_hours" if service.rto_hours is not None else "rto_tier")


def check_service_essentials(r: Review) -> Iterator[Finding]:
    """Critical, strategic and tier-1 services need an RTO, a strategy, an owner and a recovery team.
    Missing on a tier-1 or strategic service is an error; on a critical one a warning."""
    for index, service in enumerate(r.plan.services):
        if not (is_essential(service) or service.rto_tier == 1):
            continue
        severity: Severity = "error" if _urgent(service) else "warning"
        label = service.classification.value if service.classification else "tier-1"
        if r.rto_hours(service) is None and service.rto_tier is None:
            message = f"{label} service {service.id} has no RTO (rto_tier or rto_hours): complete its BIA"
            yield Finding("bia-no-rto", "error", "plan", ("services", index), service.id, message)
        if not service.strategy:
            message = f"{label} service {service.id} has no recovery strategy: choose one that meets its RTO"
            yield Finding("bia-no-strategy", severity, "plan", ("services", index), service.id, message)
        if not service.owner_role:
            message = (
                f"{label} service {service.id} has no owner_role: name the role that decides on its recovery"
            )
            yield Finding("service-no-owner", severity, "plan", ("services", index), service.id, message)
        if not service.recovery_team:
            message = f"{label} service {service.id} has no recovery_team: name the team that recovers it"
            yield Finding(
                "service-no-recovery-team", severity, "plan", ("services", index), service.id, message
            )


def check_strategy_meets_rto(r: Review) -> Iterator[Finding]:
    """A strategy whose fastest recovery is not faster than the RTO cannot meet it (error); one whose
    slowest recovery exceeds it may miss it (warning); one that states no recovery time at all
    (e.g. Manual) cannot be judged (warning)."""
    for index, service in enumerate(r.plan.services):
        rto = r.rto_hours(service)
        strategy = r.plan.organisation.strategies.get(service.strategy) if service.strategy else None
        if strategy is None or rto is None:
            continue
        path = ("services", index, "strategy")
        name = service.strategy
        if strategy.min_recovery_hours and strategy.min_recovery_hours >= rto:
            message = (
                f"service {service.id} has an RTO of {hours(rto)} (tier {service.rto_tier}) but strategy "
                f"{name} "
                f"recovers in {hours(strategy.min_recovery_hours)} or more: choose a faster strategy or a "
                f"later RTO"
            )
            yield Finding("bia-strategy-slower-than-rto", "error", "plan", path, service.id, message)
        elif strategy.max_recovery_hours is None and not strategy.min_recovery_hours:
            message = (
                f"service {service.id} relies on strategy {name}, which states no recovery time: give the "
                f"strategy min/max_recovery_hours so it can be held against the {hours(rto)} RTO"
            )
            yield Finding("bia-strategy-no-time", "warning", "plan", path, service.id, message)
        elif strategy.max_recovery_hours is None or strategy.max_recovery_hours > rto:
            slowest = (
                "no upper bound"
                if strategy.max_recovery_hours is None
                else hours(strategy.max_recovery_hours)
            )
            message = (
                f"service {service.id} has an RTO of {hours(rto)} but strategy {name} may take up to "
                f"{slowest}: "
                "the RTO is met only in the strategy's better cases"
            )
            yield Finding("bia-strategy-may-miss-rto", "warning", "plan", path, service.id, message)


def check_rto_within_mtd(r: Review) -> Iterator[Finding]:
    """The RTO must fit within the maximum tolerable downtime: an RTO (or RTO tier) that can exceed
    the MTD is an error; one equal to it is a warning (NIST: normally shorter)."""
    for index, service in enumerate(r.plan.services):
        rto = r.rto_hours(service)
        mtd = service.mtd_hours
        if mtd is None or rto is None:
            continue
        what = (
            f"RTO {hours(rto)}"
            if service.rto_hours is not None
            else f"RTO tier {service.rto_tier} (up to {hours(rto)})"
        )
        if rto > mtd:
            message = (
                f"service {service.id} tolerates {hours(mtd)} of downtime but its {what} exceeds it: "
                f"choose an RTO within the MTD ({NIST_RTO_MTD})"
            )
            yield Finding(
                "bia-rto-exceeds-mtd", "error", "plan", _rto_path(service, index), service.id, message
            )
        elif rto == mtd:
            message = (
                f"service {service.id}: its {what} equals the MTD of {hours(mtd)}, leaving no time to "
                f"resume the "
                f"business process: set rto_hours below the MTD ({NIST_RTO_MTD})"
            )
            yield Finding(
                "bia-rto-equals-mtd", "warning", "plan", _rto_path(service, index), service.id, message
            )
    for index, service in enumerate(r.plan.services):  # a tier that starts above the MTD (TEDB)
        tier = r.plan.organisation.rto_tiers.get(service.rto_tier) if service.rto_tier is not None else None
        if (
            service.mtd_hours is not None
            and service.rto_hours is None
            and tier is not None
            and tier.max_hours is None
            and tier.min_hours > service.mtd_hours
        ):
            message = (
                f"service {service.id} tolerates {hours(service.mtd_hours)} of downtime but RTO tier "
                f"{service.rto_tier} starts at {hours(tier.min_hours)}: choose an RTO tier within the MTD "
                f"({NIST_RTO_MTD})"
            )
            yield Finding(
                "bia-rto-exceeds-mtd", "error", "plan", ("services", index, "rto_tier"), service.id, message
            )


def _outside(value: float, tier: Tier) -> bool:
    return value < tier.min_hours or (tier.max_hours is not None and value > tier.max_hours)


def check_hours_within_tiers(r: Review) -> Iterator[Finding]:
    """`rto_hours` and `rpo_hours` must lie in the service's own tiers, or the BIA says two things."""
    org = r.plan.organisation
    for index, service in enumerate(r.plan.services):
        for kind, value, tier_no, tiers in (
            ("rto", service.rto_hours, service.rto_tier, org.rto_tiers),
            ("rpo", service.rpo_hours, service.rpo_tier, org.rpo_tiers),
        ):
            tier = tiers.get(tier_no) if tier_no is not None else None
            if value is None or tier is None or not _outside(value, tier):
                continue
            upper = "no upper bound" if tier.max_hours is None else hours(tier.max_hours)
            message = (
                f"service {service.id}: {kind}_hours {hours(value)} is outside its {kind.upper()} tier "
                f"{tier_no} "
                f"({hours(tier.min_hours)} to {upper})"
            )
            yield Finding(
                f"bia-{kind}-hours-outside-tier",
                "error",
                "plan",
                ("services", index, f"{kind}_hours"),
                service.id,
                message,
            )


def check_rpo_for_urgent_services(r: Review) -> Iterator[Finding]:
    """A tier-1 or strategic service usually needs tier-1 data recovery too."""
    for index, service in enumerate(r.plan.services):
        if _urgent(service) and service.rpo_tier != 1:
            rpo = "no RPO tier" if service.rpo_tier is None else f"RPO tier {service.rpo_tier}"
            message = (
                f"service {service.id} needs fast recovery (RTO tier {service.rto_tier}, "
                f"{service.classification or 'unclassified'}) but has {rpo}: confirm the data loss it "
                f"tolerates"
            )
            yield Finding(
                "bia-rpo-tier", "info", "plan", ("services", index, "rpo_tier"), service.id, message
            )


def check_dependencies(r: Review) -> Iterator[Finding]:
    """A service cannot be back before what it depends on: a dependency whose RTO is later than the
    service's RTO makes the service's RTO unreachable."""
    for index, service in enumerate(r.plan.services):
        rto = r.rto_hours(service)
        if rto is None:
            continue
        for k, dep_id in enumerate(service.dependencies):
            dep = r.plan.service(dep_id)
            dep_rto = r.rto_hours(dep) if dep is not None else None
            if dep is None:
                continue
            if dep_rto is None and dep.rto_tier is not None:
                dep_rto = float("inf")
            if dep_rto is not None and dep_rto > rto:
                later = "no upper bound" if dep_rto == float("inf") else hours(dep_rto)
                message = (
                    f"service {service.id} (RTO {hours(rto)}) depends on {dep_id}, whose RTO is {later}: "
                    f"{service.id} cannot be recovered before it; recover {dep_id} sooner or relax the RTO"
                )
                yield Finding(
                    "bia-dependency-slower",
                    "error",
                    "plan",
                    ("services", index, "dependencies", k),
                    service.id,
                    message,
                )


_PLACEHOLDER = re.compile(r"^\s*(|pending|tbd|tba|n/?a|none|unknown|-+|\?+)\s*$", re.IGNORECASE)


def check_vendors(r: Review) -> Iterator[Finding]:
    """The vendor contact list needs "emergency phone numbers, contact names, contract numbers, and
    contractual response and onsite times"; an on-site time longer than the RTO of a service the
    vendor supports makes that RTO unreachable when its hardware fails (error)."""
    for index, vendor in enumerate(r.plan.vendors):
        base = ("vendors", index)
        if not vendor.contacts:
            message = f"vendor {vendor.id} has no contacts: add an emergency point of contact"
            yield Finding("vendor-no-contact", "warning", "plan", base, vendor.id, message)
        else:
            people = [p for c in vendor.contacts if (p := r.plan.person(c)) is not None]
            if people and not any(m.kind is not ChannelKind.EMAIL for p in people for m in p.contacts):
                message = f"vendor {vendor.id} can only be reached by e-mail: add an emergency phone number"
                yield Finding(
                    "vendor-contact-email-only", "warning", "plan", (*base, "contacts"), vendor.id, message
                )
        if _PLACEHOLDER.match(vendor.contract_number):
            message = (
                f"vendor {vendor.id} has no contract number ({vendor.contract_number or 'empty'}): record it"
            )
            path = (*base, "contract_number") if vendor.contract_number else base
            yield Finding("vendor-no-contract", "warning", "plan", path, vendor.id, message)
        missing = [n for n in ("sla_response_hours", "sla_onsite_hours") if getattr(vendor, n) is None]
        if missing:
            message = (
                f"vendor {vendor.id} has no {' or '.join(missing)}: record the contractual times "
                f"({NIST_VENDOR})"
            )
            yield Finding("vendor-no-sla", "warning", "plan", base, vendor.id, message)
        if vendor.sla_onsite_hours is None:
            continue
        for service_id in vendor.services:
            service = r.plan.service(service_id)
            rto = r.rto_hours(service) if service is not None else None
            if rto is not None and vendor.sla_onsite_hours > rto:
                message = (
                    f"vendor {vendor.id} is on site within {hours(vendor.sla_onsite_hours)} but supports "
                    f"service "
                    f"{service_id} with an RTO of {hours(rto)}: negotiate a shorter on-site time or a spare"
                )
                yield Finding(
                    "vendor-sla-exceeds-rto", "error", "plan", (*base, "sla_onsite_hours"), vendor.id, message
                )
                break


_ALTERNATES = {
    SitePurpose.ALTERNATE_SITE: "an alternate processing site",
    SitePurpose.ALTERNATE_STORAGE: "alternate (offsite) storage",
    SitePurpose.ALTERNATE_TELECOM: "alternate telecommunications",
}


def check_alternate_sites(r: Review) -> Iterator[Finding]:
    """NIST App. F (moderate and high systems): alternate storage, site and telecommunications, each
    with people authorised to use it. Required once the plan has critical or strategic services."""
    if not any(is_essential(s) for s in r.plan.services):
        return
    purposes = {site.purpose for site in r.plan.sites}
    missing = [text for purpose, text in _ALTERNATES.items() if purpose not in purposes]
    if missing:
        message = (
            f"the plan has critical services but no {', no '.join(missing)}: add the sites with "
            "purpose alternate_site / alternate_storage / alternate_telecom (NIST SP 800-34 App. F)"
        )
        yield Finding("site-no-alternate", "warning", "plan", ("sites",), "sites", message)
    for index, site in enumerate(r.plan.sites):
        if site.purpose in _ALTERNATES and not (site.contacts and site.authorised_roles):
            message = (
                f"site {site.id} ({_ALTERNATES[site.purpose]}) needs points of contact and the roles "
                f"authorised to "
                "use it (contacts, authorised_roles)"
            )
            yield Finding("site-alternate-no-contact", "warning", "plan", ("sites", index), site.id, message)
