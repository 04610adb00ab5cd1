"""One-off messages outside any activation: review requests, drill heads-ups, report emails.

These go straight to a provider instead of through the engine's outbox: they are not part of a
call tree, nobody escalates on them, and a lost heads-up or reminder is sent again at the next
run. Only the masked address is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from notifier.channels.base import OutboundMessage, Outcome, Provider
from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind, Person

log = structlog.get_logger("notifier.upkeep")


@dataclass(frozen=True)
class Outbound:
    """The providers and sender numbers of the running daemon."""

    providers: dict[ChannelKind, Provider]
    sms_sender: str | None = None

    async def send(
        self,
        key: str,
        channel: ChannelKind,
        to: str,
        text: str,
        subject: str | None = None,
        html: str | None = None,
    ) -> bool:
        """Send one message; True when the provider accepted it."""
        provider = self.providers.get(channel)
        if provider is None:
            log.warning("no provider for channel", channel=str(channel), key=key)
            return False
        sender = self.sms_sender if channel is not ChannelKind.EMAIL else None
        message = OutboundMessage(
            attempt_id=key[:60], channel=channel, to=to, text=text, subject=subject, html=html
        )
        result = await provider.send(message, sender)
        accepted = result.outcome is Outcome.ACCEPTED
        log.info(
            "upkeep message sent" if accepted else "upkeep message refused",
            key=key,
            channel=str(channel),
            to=mask_address(to),
            outcome=str(result.outcome),
            code=result.error_code,
        )
        return accepted


def first_contact(person: Person, prefer: tuple[ChannelKind, ...]) -> tuple[ChannelKind, str] | None:
    """The person's first contact method of the first preferred kind they have."""
    for kind in prefer:
        for method in person.contacts:
            if method.kind is kind:
                return kind, method.address
    return None


def email_of(person: Person) -> str | None:
    found = first_contact(person, (ChannelKind.EMAIL,))
    return found[1] if found else None
