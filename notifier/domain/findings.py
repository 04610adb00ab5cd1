"""What `plan check` reports: findings, their severities, and what every rule looks at.

Split from `review.py` so that the rule modules (`review_*.py`) share these without importing each
other. `Review` is what every rule reads: the plan, the call trees (when given), the day of the
review, and the date each tree was last drilled according to the daemon's store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

from notifier.domain.calltree import TreeSet
from notifier.domain.plan import ChannelKind, Classification, Plan, Service

Severity = Literal["error", "warning", "info"]
Source = Literal["plan", "trees"]
PathPart = str | int
FieldPath = tuple[PathPart, ...]

SEVERITY_ORDER: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}

NIST_ALTERNATE = 'NIST SP 800-34: "Team leaders should have a designated alternate"'
NIST_NUMBERS = 'NIST SP 800-34: "at least one office and one non-office contact number is recommended"'
NIST_RTO_MTD = 'NIST SP 800-34: "the RTO must normally be shorter than the MTD"'
NIST_VENDOR = 'NIST SP 800-34 vendor contact list: "contractual response and onsite times"'
NIST_TIME_LIMIT = 'NIST SP 800-34: test "if calling can be executed within prescribed time limits"'


@dataclass(frozen=True)
class Finding:
    """One thing to fix. `path` is a field path into the plan or the merged call-tree set."""

    code: str
    severity: Severity
    source: Source
    path: FieldPath
    subject: str
    message: str


def hours(value: float) -> str:
    return f"{value:g} h"


def is_essential(service: Service) -> bool:
    return service.classification in (Classification.CRITICAL, Classification.STRATEGIC)


@dataclass(frozen=True)
class Review:
    """The input of every rule. `drills` maps a call-tree id to the day of its latest drill; `rates`
    are the senders' messages per second per channel, for the queueing in a tree's worst case."""

    plan: Plan
    trees: TreeSet | None
    today: date
    drills: Mapping[str, date] = field(default_factory=dict)
    rates: Mapping[ChannelKind, float] = field(default_factory=dict)  # sender rates (worstcase.py)

    @cached_property
    def lead_roles(self) -> dict[str, str]:
        """Role id -> why it leads (team lead, organisation coordinator, plan owner)."""
        leads: dict[str, str] = {}
        for team in self.plan.teams:
            leads.setdefault(team.lead, f"leads team {team.id}")
        org = self.plan.organisation
        if org.coordinator_role:
            leads.setdefault(org.coordinator_role, "is the organisation's coordinator role")
        if org.plan_owner_role:
            leads.setdefault(org.plan_owner_role, "owns the plan")
        return leads

    def rto_hours(self, service: Service) -> float | None:
        """The service's RTO in hours: its own figure, else the upper bound of its RTO tier."""
        if service.rto_hours is not None:
            return service.rto_hours
        tier = (
            self.plan.organisation.rto_tiers.get(service.rto_tier) if service.rto_tier is not None else None
        )
        return tier.max_hours if tier is not None else None

    @cached_property
    def services_by_route(self) -> dict[str, tuple[Service, ...]]:
        """Route id -> the services whose alerts it can match (by id, alias or RTO tier)."""
        routed: dict[str, tuple[Service, ...]] = {}
        if self.trees is None:
            return routed
        for route in self.trees.routes:
            match = route.match
            if not match.services and not match.rto_tiers:
                continue
            chosen = []
            for service in self.plan.services:
                names = {service.id, *service.aliases}
                if match.services and not names & set(match.services):
                    continue
                if match.rto_tiers and service.rto_tier not in match.rto_tiers:
                    continue
                chosen.append(service)
            routed[route.id] = tuple(chosen)
        return routed

    @cached_property
    def tested(self) -> dict[str, date]:
        """Tree id -> last test: the plan's record or the store's latest drill, whichever is newer."""
        merged = dict(self.plan.organisation.governance.last_tested)
        for tree_id, day in self.drills.items():
            if tree_id not in merged or day > merged[tree_id]:
                merged[tree_id] = day
        return merged
