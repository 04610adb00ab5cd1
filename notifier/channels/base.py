"""What every channel provider offers the dispatcher: one `send`, and an honest outcome.

The shape follows linkedin/iris `vendors/`: a provider declares the channels it `supports` and
sends one message at a time. What matters most is the `Outcome`: the dispatcher may retry
RATE_LIMITED freely (the provider promises the request was never processed), must never retry
UNKNOWN blindly (the message may already be on its way; resending pages the person twice, and the
status callback will tell), and moves on to the next contact method or person on INVALID,
OPTED_OUT and FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from notifier.domain.plan import ChannelKind


@dataclass(frozen=True)
class OutboundMessage:
    attempt_id: str  # our id of this attempt; also the idempotency/correlation key in headers
    channel: ChannelKind
    to: str  # E.164 number or email address
    text: str  # SMS body, voice script, or email plain text
    subject: str | None = None
    html: str | None = None
    validity_period_s: int | None = None  # Twilio drops an SMS still queued after this long
    callback_token: str = ""  # opaque; goes into callback URLs so webhooks find the attempt


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took it; delivery is reported later
    INVALID = "invalid"  # the address can never work (e.g. Twilio 21211, 21614; SMTP 550)
    OPTED_OUT = "opted_out"  # the person unsubscribed this number (Twilio 21610)
    RATE_LIMITED = "rate_limited"  # never processed; safe to retry after a backoff (429/20429)
    FAILED = "failed"  # a definite refusal: nothing was sent, retrying the same will not help
    UNKNOWN = "unknown"  # timeout, reset, 5xx: it may have been sent; never retried blindly


RETRYABLE = frozenset({Outcome.RATE_LIMITED})


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str | None = None  # Twilio SID, SMTP Message-ID
    error_code: str | None = None  # provider's code, e.g. "21211", "20429", "550"
    detail: str = ""  # short, without contact data
    retry_after: float | None = None  # seconds, when the provider said so


class Provider(Protocol):
    name: str
    supports: frozenset[ChannelKind]

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        """Send one message; never raises for provider or network errors."""
        ...

    async def close(self) -> None: ...
