"""Which contact method to try next, given the policy, the person and the hour where they are.

Business hours are the organisation's, read on the person's own wall clock with zoneinfo, so a
Brussels 08:00 start is 06:00 UTC in summer and 07:00 UTC in winter. A method marked `business`
is not used at 03:00 local time, an `after_hours` one not at 10:00. If nothing in the policy fits
the hour we fall back to the person's `always` methods, then to any method: reaching someone at an
odd hour beats reaching nobody.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.domain.calltree import EscalationPolicy
from notifier.domain.plan import BusinessHours, ContactMethod, Hours
from notifier.domain.snapshot import PersonSnap
from notifier.domain.state import address_key


def in_business_hours(now: datetime, timezone: str, business: BusinessHours) -> bool:
    local = now.astimezone(ZoneInfo(timezone))
    weekday = local.weekday()
    return any(day.day_number == weekday for day in business.days) and (
        business.start <= local.time().replace(tzinfo=None) < business.end
    )


def hours_fit(hours: Hours, business_now: bool) -> bool:
    if hours is Hours.ALWAYS:
        return True
    return business_now if hours is Hours.BUSINESS else not business_now


@dataclass(frozen=True)
class MethodChoice:
    method_index: int
    contact_index: int
    contact: ContactMethod
    wait: timedelta


def candidates(
    policy: EscalationPolicy,
    person: PersonSnap,
    now: datetime,
    business: BusinessHours,
    dead: AbstractSet[str],
) -> list[MethodChoice]:
    """Every (method step, contact) pair usable now, in policy order; see the module docstring."""
    return choices_at(policy, person, in_business_hours(now, person.timezone, business), dead)


def choices_at(
    policy: EscalationPolicy, person: PersonSnap, business_now: bool, dead: AbstractSet[str]
) -> list[MethodChoice]:
    """`candidates` for a person who is (or is not) within business hours where they are."""
    usable = [
        (index, contact)
        for index, contact in enumerate(person.contacts)
        if address_key(contact.kind, contact.address) not in dead
    ]
    pairs = [
        MethodChoice(step_index, contact_index, contact, policy.wait_for(step))
        for step_index, step in enumerate(policy.methods)
        for contact_index, contact in usable
        if contact.kind is step.kind
    ]
    if not policy.respect_hours and pairs:
        return pairs
    fitting = [pair for pair in pairs if hours_fit(pair.contact.hours, business_now)]
    if fitting:
        return fitting
    fallback = len(policy.methods)
    always = [
        MethodChoice(fallback, index, contact, policy.ack_wait)
        for index, contact in usable
        if contact.hours is Hours.ALWAYS
    ]
    return always or [MethodChoice(fallback, index, contact, policy.ack_wait) for index, contact in usable]


def next_choice(
    policy: EscalationPolicy,
    person: PersonSnap,
    after: tuple[int, int],
    now: datetime,
    business: BusinessHours,
    dead: AbstractSet[str],
) -> MethodChoice | None:
    """The first usable pair after `after` in this round, or None when the round is used up."""
    for choice in candidates(policy, person, now, business, dead):
        if (choice.method_index, choice.contact_index) > after:
            return choice
    return None


def first_reachable(
    person: PersonSnap, now: datetime, business: BusinessHours, dead: AbstractSet[str]
) -> ContactMethod | None:
    """The person's first contact method that fits the hour (for notices that need no ack)."""
    usable = [c for c in person.contacts if address_key(c.kind, c.address) not in dead]
    business_now = in_business_hours(now, person.timezone, business)
    fitting = [c for c in usable if hours_fit(c.hours, business_now)]
    chosen = fitting or usable
    return chosen[0] if chosen else None
