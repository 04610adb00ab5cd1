"""Before a coordinator presses Start: who would be contacted, by which channel first, how long it
would take to reach the last person, and what each channel's message would say.

Pure (snapshot + sender capacity -> figures), so it is tested without a daemon. The estimate is a
model, said as such on the page:

- SMS and voice leave at the senders' combined rate (`numbers x rate per sender`, as the dispatcher
  paces them); email leaves at once.
- broadcast: every node's first holder is sent to at once, so the last person is reached when the
  queue of first messages has drained.
- cascade: a node's children are notified when it acknowledges, so each level waits for the one
  above. "If everyone answers at once" counts only the queues; "if primaries stay silent" adds, for
  each node on the way, the time its primary's methods take to run out (their waits times the
  policy's rounds) before the first alternate is tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from notifier.domain.calltree import ActivationKind, Mode
from notifier.domain.masking import mask_address
from notifier.domain.messages import MessageFields, MessageKind, render, sms_segments
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import NodeSnap, Snapshot

QUEUED = frozenset({ChannelKind.SMS, ChannelKind.VOICE})


@dataclass(frozen=True)
class Contacted:
    node: str
    level: int
    person: str
    channel: str  # the first channel tried ("none" when the person has none the policy uses)
    address: str  # masked: a dry run is shown on shared screens
    alternates: int


@dataclass(frozen=True)
class Preview:
    channel: str
    text: str
    subject: str | None = None
    segments: int | None = None


@dataclass
class DryRun:
    contacted: list[Contacted] = field(default_factory=list)
    best_s: float = 0.0
    silent_s: float = 0.0
    time_limit_s: float = 0.0
    rate_per_s: float = 0.0
    previews: list[Preview] = field(default_factory=list)

    @property
    def people(self) -> int:
        return len({c.person for c in self.contacted})


def _first_contact(snap: Snapshot, node: NodeSnap, person_id: str) -> tuple[str, str]:
    person = snap.people.get(person_id)
    if person is None:
        return "none", ""
    for step in node.policy.methods:
        for contact in person.contacts:
            if contact.kind is step.kind:
                return str(contact.kind), mask_address(contact.address)
    return "none", ""


def _exhaust_s(snap: Snapshot, node: NodeSnap, person_id: str) -> float:
    """How long the node's policy tries `person_id` before moving on to an alternate."""
    person = snap.people.get(person_id)
    kinds = {c.kind for c in person.contacts} if person else set()
    waits = sum(
        (node.policy.wait_for(step) for step in node.policy.methods if step.kind in kinds), timedelta()
    )
    return waits.total_seconds() * node.policy.rounds


def dry_run(snap: Snapshot, senders: int, rate_per_sender: float) -> DryRun:
    rate = max(senders, 1) * rate_per_sender
    result = DryRun(time_limit_s=snap.time_limit.total_seconds(), rate_per_s=rate)
    queued_per_level: dict[int, int] = {}
    for node in snap.nodes.values():
        if not node.holders:
            continue
        first = node.holders[0]
        channel, address = _first_contact(snap, node, first)
        result.contacted.append(
            Contacted(node.label or node.ref, node.level, first, channel, address, len(node.holders) - 1)
        )
        if channel in QUEUED:
            queued_per_level[node.level] = queued_per_level.get(node.level, 0) + 1

    def queue_s(count: int) -> float:
        return max(count - 1, 0) / rate if rate > 0 else 0.0

    if snap.mode is Mode.BROADCAST:
        result.best_s = queue_s(sum(queued_per_level.values()))
    else:
        result.best_s = sum(queue_s(n) for n in queued_per_level.values())
    result.silent_s = result.best_s + _silent_path_s(snap)
    return result


def _silent_path_s(snap: Snapshot) -> float:
    """When the last person is first contacted if every primary stays silent: a cascade node is
    notified once its parent acknowledged (its alternate, after the primary ran out) or was given up
    as unreachable (same moment); a node's alternate is tried once its primary ran out."""
    starts: dict[str, float] = {}

    def start(key: str) -> float:
        if key not in starts:
            node = snap.nodes[key]
            parent = snap.nodes.get(node.parent) if node.parent else None
            if snap.mode is Mode.BROADCAST or parent is None or not parent.holders:
                starts[key] = 0.0
            else:
                starts[key] = start(parent.key) + _exhaust_s(snap, parent, parent.holders[0])
        return starts[key]

    worst = 0.0
    for key, node in snap.nodes.items():
        if node.holders:
            alternate = _exhaust_s(snap, node, node.holders[0]) if len(node.holders) > 1 else 0.0
            worst = max(worst, start(key) + alternate)
    return worst


def previews(snap: Snapshot, fields: dict[str, str], person_name: str) -> list[Preview]:
    """Each channel's text as the first person would receive it (the reference is a placeholder)."""
    kind = MessageKind.ACTIVATION if snap.kind is ActivationKind.INCIDENT else MessageKind.DRILL
    known = {"nature", "outage_estimate", "response", "convene", "relocation", "instructions", "service"}
    message = MessageFields(
        **{name: fields.get(name, "") for name in known},
        tree=snap.tree_name,
        ref="REF",
        person=person_name,
        ack_url="(link to acknowledge)",
        extra={k: v for k, v in fields.items() if k not in known},
    )
    result: list[Preview] = []
    for channel in (ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.EMAIL):
        rendered = render(kind, channel, message, snap.templates, snap.kind)
        segments = sms_segments(rendered.text) if channel is ChannelKind.SMS else None
        result.append(Preview(str(channel), rendered.text, rendered.subject, segments))
    return result
