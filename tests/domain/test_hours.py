"""Business vs after-hours methods, read on the person's wall clock, across the 2026 DST change.

Brussels moves from CET (UTC+1) to CEST (UTC+2) on Sunday 29 March 2026. 06:30 UTC is 07:30 on
Friday 27 March (before business hours at 08:00) and 08:30 on Monday 30 March (within them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.calltree import EscalationPolicy, MethodStep, Node
from notifier.domain.events import Start
from notifier.domain.hours import in_business_hours
from notifier.domain.plan import BusinessHours, ChannelKind, ContactMethod, Hours, Person
from tests.domain.planner_fixture import Sim, nist_plan, nist_tree, sends, snapshot

FRIDAY_BEFORE = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)
MONDAY_AFTER = datetime(2026, 3, 30, 6, 30, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)

SPLIT = (
    ContactMethod(kind=ChannelKind.SMS, address="+32470555501", hours=Hours.BUSINESS),
    ContactMethod(kind=ChannelKind.VOICE, address="+32470555502", hours=Hours.AFTER_HOURS),
    ContactMethod(kind=ChannelKind.EMAIL, address="duty@example.org", hours=Hours.ALWAYS),
)


def test_business_hours_follow_daylight_saving_time() -> None:
    office = BusinessHours()
    assert not in_business_hours(FRIDAY_BEFORE, "Europe/Brussels", office)
    assert in_business_hours(MONDAY_AFTER, "Europe/Brussels", office)
    assert not in_business_hours(SATURDAY_NOON, "Europe/Brussels", office)
    # one instant, two wall clocks: 08:30 in Brussels is 07:30 in Lisbon
    friday = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)
    assert in_business_hours(friday, "Europe/Brussels", office)
    assert not in_business_hours(friday, "Europe/Lisbon", office)


def first_channel(contacts: tuple[ContactMethod, ...], now: datetime, *methods: ChannelKind) -> ChannelKind:
    plan = nist_plan(
        (Person(id="p-duty", name="Duty Officer", timezone="Europe/Brussels", contacts=contacts),)
    )
    policy = EscalationPolicy(id="standard", methods=tuple(MethodStep(kind=kind) for kind in methods))
    tree = nist_tree(nodes=(Node(person="p-duty"),))
    sim = Sim(snapshot(tree, plan, policies=(policy,)), now=now)
    [send] = sends(sim.step(Start()))
    return send.channel


def test_methods_outside_their_hours_are_skipped_across_dst() -> None:
    every = (ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.EMAIL)
    assert first_channel(SPLIT, FRIDAY_BEFORE, *every) is ChannelKind.VOICE
    assert first_channel(SPLIT, MONDAY_AFTER, *every) is ChannelKind.SMS
    assert first_channel(SPLIT, SATURDAY_NOON, *every) is ChannelKind.VOICE


def test_falls_back_to_always_methods_then_to_any() -> None:
    # the policy only allows SMS, the SMS is business-only, and it is Saturday: the always email
    assert first_channel(SPLIT, SATURDAY_NOON, ChannelKind.SMS) is ChannelKind.EMAIL
    # no always method at all: anything rather than nobody
    business_only = SPLIT[:1]
    assert first_channel(business_only, SATURDAY_NOON, ChannelKind.VOICE) is ChannelKind.SMS


def test_respect_hours_off_uses_the_policy_order() -> None:
    plan = nist_plan((Person(id="p-duty", name="Duty Officer", timezone="Europe/Brussels", contacts=SPLIT),))
    policy = EscalationPolicy(id="standard", methods=(MethodStep(kind=ChannelKind.SMS),), respect_hours=False)
    sim = Sim(
        snapshot(nist_tree(nodes=(Node(person="p-duty"),)), plan, policies=(policy,)), now=SATURDAY_NOON
    )
    assert [s.channel for s in sends(sim.step(Start()))] == [ChannelKind.SMS]
