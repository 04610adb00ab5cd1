"""The one inbound port: how every provider hands delivery reports and replies to the engine.

A provider's webhook (Twilio's under `/webhooks/twilio`, Kannel's under `/webhooks/kannel`)
checks the request's authenticity, translates the provider's own words into these types, and calls
the port; the engine never sees a provider's codes or status words. Replies to SMS from any
provider go through the same reply grammar, ambiguity questions and STOP handling
(`notifier.engine.responses`), and the text returned is what the provider should answer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from notifier.domain.events import DeliveryStatus


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's later word on one attempt (the attempt is named by its callback token)."""

    status: DeliveryStatus
    error_code: str | None = None  # the provider's own code, opaque: shown in the report
    provider: str = ""
    provider_id: str | None = None  # the provider's id of the message or call (replays: applied once)
    detail: str = ""  # the provider's raw status, short, no contact data (with the id: the replay key)


class InboundPort(Protocol):
    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        """Apply a delivery report to the attempt its callback token names (unknown tokens: ignored)."""
        ...

    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        """A reply from `from_`; returns the text to answer with ('' for none)."""
        ...
