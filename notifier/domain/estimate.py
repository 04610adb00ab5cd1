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
* `nobody_answers`: until the last node is given up on when nobody answers: the worst case of
  `worstcase.py` (the slowest branch of waits over every holder, round and contact, plus every
  wave's queue), the same figure `notifier validate` and `plan check` hold against the time limit.

`validity_exceeded` is true when a wave takes longer to leave than the policy's validity period: its
last messages would be given up before the provider ever took them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from notifier.domain.calltree import Mode
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot
from notifier.domain.worstcase import node_steps, queue_time, release_groups, worst_case


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


def _wave(snap: Snapshot, keys: list[str], rates: Mapping[ChannelKind, float]) -> tuple[timedelta, int]:
    """(first-contact queue, largest first wave) of nodes released together."""
    first: dict[ChannelKind, int] = {}
    for key in keys:
        steps = node_steps(snap, snap.nodes[key])
        if steps:
            first[steps[0][0]] = first.get(steps[0][0], 0) + 1
    return queue_time(first, rates), max(first.values(), default=0)


def estimate(snap: Snapshot, rates: Mapping[ChannelKind, float]) -> Estimate:
    """The dry-run figures of one compiled tree at `rates` (messages per second per channel, all
    senders together; a channel not named is not rate-limited)."""
    first_contact, largest = timedelta(0), 0
    exceeded = False
    for keys in release_groups(snap):
        queue, size = _wave(snap, keys, rates)
        first_contact += queue
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
        nobody_answers=worst_case(snap, rates).total,
        time_limit=snap.time_limit,
        validity=min(validities, default=timedelta(minutes=30)),
        validity_exceeded=exceeded,
    )
