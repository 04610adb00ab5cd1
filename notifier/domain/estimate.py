"""How long a call tree takes at the configured sender rates: the dry-run estimate.

Why. An acknowledgement wait runs from the moment a message leaves (see `planner.py`), so queueing
behind a sender's rate no longer counts against a person, but it still delays everyone: a US long
code sends 1 SMS/s, so the 300th person of a broadcast behind one number gets their SMS five minutes
after the start. A coordinator choosing a time limit, a wait or a number of senders needs that
figure before an activation, not after it.

How. A tree is played in *waves*: every node released at the same time (a broadcast: all of them; a
cascade: one level, released when the level above is done) sends its first attempt together, and in
the worst case (nobody answers) each following attempt together too. A wave of `n` messages on a
channel sending `r` per second (all its senders together) takes `n / r` to leave; a channel without
a rate (email) takes no time. Two figures come out:

* `first_contact`: until the last person's first message has left when everyone answers at once
  (cascade: each level's queue in turn). This is exact for the queue, ignoring network time.
* `nobody_answers`: until the last node is given up on when nobody answers: each wave's queue plus
  the longest wait of the wave before it, over every holder, round and contact. This is an upper
  bound (waves are taken to leave one after the other).

`validity_exceeded` is true when a wave takes longer to leave than the policy's validity period: its
last messages would be given up before the provider ever took them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from notifier.domain.calltree import EscalationPolicy, Mode
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import NodeSnap, Snapshot

Step = tuple[ChannelKind, timedelta]


@dataclass(frozen=True)
class Estimate:
    tree_id: str
    mode: Mode
    nodes: int
    largest_wave: int  # messages of the largest first wave on one channel
    first_contact: timedelta
    nobody_answers: timedelta
    time_limit: timedelta
    validity: timedelta  # the shortest validity period of the tree's policies
    validity_exceeded: bool

    @property
    def within_time_limit(self) -> bool:
        return self.first_contact <= self.time_limit


def node_steps(snap: Snapshot, node: NodeSnap) -> list[Step]:
    """Every attempt of `node` in order when nobody answers: holders, rounds, methods, contacts."""
    policy: EscalationPolicy = node.policy
    holders = node.holders if policy.use_alternates else node.holders[:1]
    steps: list[Step] = []
    for holder in holders:
        person = snap.people[holder]
        for _ in range(policy.rounds):
            for method in policy.methods:
                count = sum(1 for c in person.contacts if c.kind is method.kind)
                steps += [(method.kind, policy.wait_for(method))] * count
    return steps


def _queue(counts: Mapping[ChannelKind, int], rates: Mapping[ChannelKind, float]) -> timedelta:
    """How long a wave takes to leave: its slowest channel (channels send in parallel)."""
    seconds = max((n / rates[kind] for kind, n in counts.items() if rates.get(kind)), default=0.0)
    return timedelta(seconds=seconds)


def _wave(
    snap: Snapshot, keys: list[str], rates: Mapping[ChannelKind, float]
) -> tuple[timedelta, timedelta, int]:
    """(first-contact queue, nobody-answers time, largest first wave) of nodes released together."""
    plans = [node_steps(snap, snap.nodes[key]) for key in keys]
    first: dict[ChannelKind, int] = {}
    for steps in plans:
        if steps:
            first[steps[0][0]] = first.get(steps[0][0], 0) + 1
    first_queue = _queue(first, rates)
    total, longest_wait = timedelta(0), timedelta(0)
    for index in range(max((len(steps) for steps in plans), default=0)):
        counts: dict[ChannelKind, int] = {}
        waits = [timedelta(0)]
        for steps in plans:
            if index < len(steps):
                kind, wait = steps[index]
                counts[kind] = counts.get(kind, 0) + 1
                waits.append(wait)
        total += longest_wait + _queue(counts, rates)
        longest_wait = max(waits)
    return first_queue, total + longest_wait, max(first.values(), default=0)


def estimate(snap: Snapshot, rates: Mapping[ChannelKind, float]) -> Estimate:
    """The dry-run figures of one compiled tree at `rates` (messages per second per channel, all
    senders together; a channel not named is not rate-limited)."""
    if snap.mode is Mode.BROADCAST:
        levels = [list(snap.nodes)]
    else:
        depth = max((n.level for n in snap.nodes.values()), default=0)
        levels = [[k for k, n in snap.nodes.items() if n.level == level] for level in range(depth + 1)]
    first_contact, nobody, largest = timedelta(0), timedelta(0), 0
    exceeded = False
    for keys in levels:
        if not keys:
            continue
        queue, worst, size = _wave(snap, keys, rates)
        first_contact += queue
        nobody += worst
        largest = max(largest, size)
        validity = min(snap.nodes[key].policy.validity_period for key in keys)
        exceeded = exceeded or queue > validity
    validities = [n.policy.validity_period for n in snap.nodes.values()]
    return Estimate(
        tree_id=snap.tree_id,
        mode=snap.mode,
        nodes=len(snap.nodes),
        largest_wave=largest,
        first_contact=first_contact,
        nobody_answers=nobody,
        time_limit=snap.time_limit,
        validity=min(validities, default=timedelta(minutes=30)),
        validity_exceeded=exceeded,
    )
