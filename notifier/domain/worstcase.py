"""How long a call tree can take at worst, from its escalation policies alone.

NIST SP 800-34 Rev.1 asks that call trees be tested "to determine if calling can be executed
within prescribed time limits" (§3.5.1). Before any drill, the policies already bound that time:
the worst case is everyone letting every message go unanswered until its wait runs out.

Rules, as the planner applies them (see `planner.py` and `hours.py`):

* **A person** is tried `rounds` times through every (method step, contact of that kind) pair the
  policy allows; each pair costs its wait. With `respect_hours`, the pairs depend on whether the
  person is within business hours; a person tried across the end of the business day can meet both
  kinds, so every pair either case allows counts once.
* **A node** tries its holders one after the other: the primary, then (with `use_alternates`)
  each alternate. Its worst case is the sum over the holders it would try.
* **Cascade**: a node's children are notified when it acknowledges (at worst, just before its last
  wait runs out) or is given up on, so a branch's worst case is the sum of its nodes' worst cases
  down the path. **Broadcast**: every node
  starts at once, and the tree's worst case is its slowest node.

The tree's worst case is its slowest branch, plus the time messages queue behind the senders' rates
when `rates` are given (`queueing`): nodes released together (a broadcast: all; a cascade: one
level) send each of their attempts in waves, and a wave of `n` messages on a channel sending `r` per
second takes `n / r` to leave. It is an upper bound for completion under every rule (`first` and
`quorum` can finish earlier). `notifier estimate`, the console's dry run (both `estimate.py`),
`notifier validate` and `plan check` all show this one figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from notifier.domain.calltree import EscalationPolicy, Mode
from notifier.domain.hours import choices_at
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import NodeSnap, PersonSnap, Snapshot


def person_worst(policy: EscalationPolicy, person: PersonSnap) -> timedelta:
    """The longest one holder can be tried under `policy` before the node moves on."""
    pairs = {
        (choice.method_index, choice.contact_index): choice.wait
        for business in (True, False)
        for choice in choices_at(policy, person, business, frozenset())
    }
    return sum(pairs.values(), timedelta()) * policy.rounds


def node_worst(node: NodeSnap, people: dict[str, PersonSnap]) -> timedelta:
    """The longest a node can take before it is acknowledged or given up on."""
    holders = node.holders if node.policy.use_alternates else node.holders[:1]
    return sum((person_worst(node.policy, people[h]) for h in holders if h in people), timedelta())


@dataclass(frozen=True)
class TreeWorst:
    """The worst case of one tree under one default policy."""

    tree_id: str
    total: timedelta  # the slowest branch plus `queueing`
    queueing: timedelta
    branch: tuple[str, ...]  # labels from the root to the node that resolves last
    node_times: dict[str, timedelta]  # node key -> worst time from the start to its resolution


Step = tuple[ChannelKind, timedelta]


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


def queue_time(counts: Mapping[ChannelKind, int], rates: Mapping[ChannelKind, float]) -> timedelta:
    """How long a wave takes to leave: its slowest channel (channels send in parallel)."""
    seconds = max((n / rates[kind] for kind, n in counts.items() if rates.get(kind)), default=0.0)
    return timedelta(seconds=seconds)


def release_groups(snap: Snapshot) -> list[list[str]]:
    """Nodes released together: a broadcast's all at once, a cascade's level by level."""
    if snap.mode is Mode.BROADCAST:
        return [list(snap.nodes)]
    depth = max((n.level for n in snap.nodes.values()), default=0)
    groups = [[k for k, n in snap.nodes.items() if n.level == level] for level in range(depth + 1)]
    return [group for group in groups if group]


def queueing(snapshot: Snapshot, rates: Mapping[ChannelKind, float]) -> timedelta:
    """How long messages wait for a sender at `rates` when nobody answers: every wave's queue."""
    if not any(rates.values()):
        return timedelta()
    total = timedelta()
    for keys in release_groups(snapshot):
        plans = [node_steps(snapshot, snapshot.nodes[key]) for key in keys]
        for index in range(max((len(steps) for steps in plans), default=0)):
            counts: dict[ChannelKind, int] = {}
            for steps in plans:
                if index < len(steps):
                    counts[steps[index][0]] = counts.get(steps[index][0], 0) + 1
            total += queue_time(counts, rates)
    return total


def worst_case(snapshot: Snapshot, rates: Mapping[ChannelKind, float] | None = None) -> TreeWorst:
    """The worst case of the tree frozen in `snapshot` at sender `rates` (messages per second per
    channel, all senders together; None: messages leave at once). See the module docstring."""
    nodes = snapshot.nodes
    own = {key: node_worst(node, snapshot.people) for key, node in nodes.items()}
    done: dict[str, timedelta] = {}
    paths: dict[str, tuple[str, ...]] = {}

    def visit(key: str, start: timedelta, path: tuple[str, ...]) -> None:
        node = nodes[key]
        done[key] = start + own[key]
        paths[key] = (*path, node.label)
        if snapshot.mode is Mode.BROADCAST:
            return
        for child in node.children:
            visit(child, done[key], paths[key])

    if snapshot.mode is Mode.BROADCAST:
        for key in nodes:
            visit(key, timedelta(), ())
    else:
        for root in snapshot.roots:
            visit(root, timedelta(), ())
    waiting = queueing(snapshot, rates or {})
    if not done:
        return TreeWorst(snapshot.tree_id, waiting, waiting, (), {})
    last = max(done, key=lambda k: (done[k], -len(paths[k])))
    return TreeWorst(snapshot.tree_id, done[last] + waiting, waiting, paths[last], done)
