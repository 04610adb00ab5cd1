"""Before a coordinator presses Start: who would be contacted, by which channel first, how long it
would take to reach the last person, and what each channel's message would say.

Pure (snapshot + sender capacity -> figures). The times are `notifier.domain.estimate`'s, the same
figures `notifier estimate` prints: the first messages of each wave leave at the senders' combined
rate (numbers x rate per sender) for SMS and voice, email at once; "first contact" assumes everyone
answers at once, "nobody answers" is the upper bound with every wait, round and alternate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifier.domain.calltree import ActivationKind
from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.estimate import Estimate, estimate
from notifier.domain.masking import mask_address
from notifier.domain.messages import MessageFields, MessageKind, render, sms_segments
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import NodeSnap, Snapshot


@dataclass(frozen=True)
class Contacted:
    node: str
    level: int
    person: str
    name: str
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
    contacted: list[Contacted]
    estimate: Estimate
    rate_per_s: float
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


def dry_run(snap: Snapshot, senders: int, rate_per_sender: float) -> DryRun:
    rate = max(senders, 1) * rate_per_sender
    contacted = []
    for node in snap.nodes.values():
        if node.holders:
            first = node.holders[0]
            channel, address = _first_contact(snap, node, first)
            contacted.append(
                Contacted(
                    node.label or node.ref,
                    node.level,
                    first,
                    snap.people[first].name if first in snap.people else first,
                    channel,
                    address,
                    len(node.holders) - 1,
                )
            )
    figures = estimate(snap, {ChannelKind.SMS: rate, ChannelKind.VOICE: rate})
    return DryRun(contacted=contacted, estimate=figures, rate_per_s=rate)


def previews(snap: Snapshot, fields: dict[str, str], person_name: str) -> list[Preview]:
    """Each channel's text as the first person would receive it (the reference is a placeholder);
    `fields` as the activation would start with them (`notifier.domain.content.complete_content`)."""
    kind = MessageKind.ACTIVATION if snap.kind is ActivationKind.INCIDENT else MessageKind.DRILL
    content: dict[str, Any] = {name: fields.get(name, "") for name in CONTENT_FIELDS}
    message = MessageFields(
        **content,
        tree=snap.tree_name,
        ref="REF",
        person=person_name,
        ack_url="(link to acknowledge)",
    )
    result: list[Preview] = []
    for channel in (ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.EMAIL):
        rendered = render(kind, channel, message, snap.templates, snap.kind)
        segments = sms_segments(rendered.text) if channel is ChannelKind.SMS else None
        result.append(Preview(str(channel), rendered.text, rendered.subject, segments))
    return result
