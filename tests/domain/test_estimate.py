"""The dry-run estimate counts the queue that the configured sender rates imply."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import Mode, Node
from notifier.domain.estimate import estimate
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot
from tests.domain.planner_fixture import STANDARD, nist_plan, nist_tree, person, snapshot


def broadcast(people: int, validity: timedelta = timedelta(minutes=30)) -> Snapshot:
    staff = tuple(person(f"p-staff-{i:04d}", f"Staff {i}") for i in range(people))
    tree = nist_tree(mode=Mode.BROADCAST, nodes=tuple(Node(person=p.id) for p in staff))
    policy = STANDARD.model_copy(update={"validity_period": validity})
    return snapshot(tree, nist_plan(staff), policies=(policy,))


def test_300_people_behind_one_5_per_second_sender_are_all_contacted_after_a_minute() -> None:
    result = estimate(broadcast(300), {ChannelKind.SMS: 5.0, ChannelKind.VOICE: 5.0})
    assert result.first_contact == timedelta(seconds=60)
    assert result.largest_wave == 300 and result.within_time_limit and not result.validity_exceeded
    # nobody answering: SMS queue + 5 m, voice queue + 5 m, email (no rate) + 10 m
    assert result.nobody_answers == timedelta(seconds=60 + 300 + 60 + 300 + 600)


def test_a_wave_longer_than_the_validity_period_is_flagged() -> None:
    result = estimate(broadcast(400, timedelta(minutes=5)), {ChannelKind.SMS: 1.0})
    assert result.first_contact == timedelta(seconds=400)
    assert result.validity_exceeded


def test_a_channel_without_a_rate_adds_no_queue() -> None:
    assert estimate(broadcast(50), {}).first_contact == timedelta(0)


def test_a_cascade_queues_level_by_level() -> None:
    snap = snapshot()  # the coordinator, then four team leader nodes, then their members
    result = estimate(snap, {ChannelKind.SMS: 1.0, ChannelKind.VOICE: 1.0})
    levels = sorted({n.level for n in snap.nodes.values()})
    sizes = [sum(1 for n in snap.nodes.values() if n.level == level) for level in levels]
    assert result.first_contact == timedelta(seconds=sum(sizes))
