"""Why someone was not reached, and what to fix in the plan data because of it.

A continuity manager reading a drill report wants two things about every miss: the provider's
verdict in plain words ("invalid number", "answering machine", "bounced email") and the action that
fixes it ("update the mobile number of X"). Both are derived here from the attempt records alone,
so the same wording appears in every format. Addresses are always masked (DESIGN §6).
"""

from __future__ import annotations

from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import NodeSnap, PersonSnap
from notifier.domain.state import AttemptState
from notifier.reports.model import Finding

_CHANNEL = {ChannelKind.SMS: "SMS", ChannelKind.VOICE: "call", ChannelKind.EMAIL: "email"}

_PLAIN = {
    "no_answer": "no answer",
    "busy": "line busy",
    "machine": "answering machine (not an acknowledgement)",
    "opted_out": "opted out of SMS",
    "unknown": "outcome unknown (may have been sent)",
    "delivered": "delivered, no acknowledgement",
    "answered": "answered, no keypress",
    "skipped": "skipped",
    "withdrawn": "withdrawn before it was sent (no longer needed)",
}


def attempt_verdict(attempt: AttemptState) -> str:
    """The provider's verdict on one attempt, e.g. `invalid address (error 550)`."""
    channel, status = attempt.channel, attempt.status
    if status == "invalid":
        text = "invalid address" if channel is ChannelKind.EMAIL else "invalid number"
    elif status == "failed":
        text = {ChannelKind.EMAIL: "bounced email", ChannelKind.SMS: "SMS not delivered"}.get(
            channel, "call failed"
        )
    elif status in ("queued", "sent"):
        text = "sent, no acknowledgement"
    else:
        text = _PLAIN.get(status, status)
    return text + (f" (error {attempt.error_code})" if attempt.error_code else "")


def attempt_reason(attempt: AttemptState) -> str:
    """One attempt as a reason line: `email to an***@example.org: invalid address (error 550)`."""
    return f"{_CHANNEL[attempt.channel]} to {mask_address(attempt.address)}: {attempt_verdict(attempt)}"


def _label(person: PersonSnap, attempt: AttemptState) -> str:
    for contact in person.contacts:
        if contact.kind is attempt.channel and contact.address == attempt.address:
            return contact.label.value
    return "phone"


def contact_findings(person: PersonSnap, attempts: list[AttemptState], unreachable: bool) -> list[Finding]:
    """Data-quality actions for one person, from the attempts made to reach them."""
    found: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for attempt in attempts:
        key = (attempt.status, attempt.channel.value, attempt.address)
        if key in seen:
            continue
        seen.add(key)
        masked = mask_address(attempt.address)
        code = f" (error {attempt.error_code})" if attempt.error_code else ""
        action: str | None = None
        if attempt.status == "invalid" and attempt.channel is ChannelKind.EMAIL:
            action = (
                f"Update the email address of {person.name} ({masked}): it was rejected as invalid{code}."
            )
        elif attempt.status == "invalid":
            action = (
                f"Update the {_label(person, attempt)} number of {person.name} ({masked}): "
                f"the provider rejected it as invalid{code}."
            )
        elif attempt.status == "opted_out":
            action = (
                f"Ask {person.name} to text START to the alert number, or record another mobile number: "
                f"{masked} has opted out of SMS."
            )
        elif attempt.status == "failed" and attempt.channel is ChannelKind.EMAIL:
            action = f"Check the email address of {person.name} ({masked}): the message bounced{code}."
        if action:
            found.append(Finding(person_id=person.id, action=action))
    if unreachable and not found:
        found.append(
            Finding(
                person_id=person.id,
                action=(
                    f"Confirm with {person.name} that the contact details on file are the ones they carry: "
                    f"{len(attempts)} attempt(s) went unanswered."
                ),
            )
        )
    return found


def node_findings(node: NodeSnap, status: str, declined: bool = False) -> list[Finding]:
    """Actions on the roles themselves: no holder, or no alternate behind a holder who was missed."""
    if status not in ("unreachable", "declined"):
        return []
    if not node.holders:
        return [
            Finding(person_id=None, action=f"Assign a holder to {node.label}: the role has nobody in it.")
        ]
    if len(node.holders) == 1:
        what = "declined" if status == "declined" or declined else "could not be reached"
        return [
            Finding(
                person_id=None,
                action=f"Appoint an alternate for {node.label}: its only holder {what} and nobody stood in.",
            )
        ]
    return []
