"""Renders planner `Send` actions into the message stored on the outbox row.

Rendering happens when the outbox row is written, not when it is sent, so what was sent is on
record exactly and a restart sends the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.events import Send
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot


def make_renderer(
    ack_url_for: Callable[[str, str], str],
) -> Callable[[Snapshot, dict[str, Any], str, str, Send], dict[str, Any]]:
    """`ack_url_for(activation_id, attempt_id)` gives the signed email acknowledgement link."""

    def render_send(
        snapshot: Snapshot, fields: dict[str, Any], activation_id: str, ref: str, send: Send
    ) -> dict[str, Any]:
        person = snapshot.people.get(send.person_id)
        node = snapshot.nodes.get(send.node_key) if send.node_key else None
        kind = MessageKind(str(send.message_kind))
        channel = ChannelKind(str(send.channel))
        extra = {k: str(v) for k, v in (send.extra or {}).items()}
        if snapshot.invokes is not None and snapshot.invokes.criteria:
            extra.setdefault("criteria", "; ".join(snapshot.invokes.criteria))
        if fields.get("invoked_by"):
            extra.setdefault("invoked_by", str(fields["invoked_by"]))
        ack_url = ""
        if channel is ChannelKind.EMAIL and kind in (
            MessageKind.ACTIVATION,
            MessageKind.DRILL,
            MessageKind.UPDATE,
            MessageKind.INVOCATION,
        ):
            ack_url = ack_url_for(activation_id, send.attempt_id)
        message = MessageFields(
            # a send may carry its own text for a field (an update's new response details)
            **{name: str(extra.get(name) or fields.get(name, "") or "") for name in CONTENT_FIELDS},
            tree=snapshot.tree_name,
            ref=ref,
            person=person.name if person else "",
            node=(node.label or node.ref) if node else "",
            ack_url=ack_url,
            extra=extra,
        )
        rendered = render(kind, channel, message, snapshot.templates, snapshot.kind)
        return {
            "text": rendered.text,
            "subject": rendered.subject,
            "html": rendered.html,
            "validity_period_s": send.validity_period_s,
        }

    return render_send
