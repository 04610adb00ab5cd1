"""What every channel provider offers the dispatcher: one `send`, and an honest outcome.

A provider declares the `channels` it serves (sms, voice, email, chat) and whether it is
`two_way` (it hands replies and delivery reports back through the inbound port,
`notifier.channels.inbound`). What matters most is the `Outcome`: the dispatcher may retry
RATE_LIMITED freely (the provider promises the request was never processed), must never retry
UNKNOWN blindly (the message may already be on its way; resending pages the person twice, and the
delivery report will tell), and moves on to the next contact method or person on INVALID,
OPTED_OUT and FAILED. `SendResult.provider_down` says that the failure was the provider's, not the
address's (transport error, 5xx, timeout): the failover layer (`failover.py`) counts those, and
`not_sent` says that nothing reached the provider, so another provider may be tried at once.

Provider-specific codes stay inside each provider's package: `error_code` is opaque here (kept for
the report), and every provider maps its own codes and status words to these outcomes.

A provider may also offer `lookup` (the optional `SupportsLookup` capability): given a message
whose send outcome we lost (the daemon died mid-request, the result could not be stored), it says
what the provider really has. The dispatcher asks before it sends such a message again
(`notifier.engine.reconcile`), so a crash duplicates nothing the provider can account for; a
provider without it keeps the old bound (at most the in-flight window is sent twice after a crash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from notifier.domain.events import DeliveryStatus
from notifier.domain.plan import ChannelKind

#: informed channels (Teams, Slack, Matrix, ntfy...): one-way posts, never an acknowledgement
CHAT = "chat"
CHANNELS = frozenset({*(kind.value for kind in ChannelKind), CHAT})


@dataclass(frozen=True)
class OutboundMessage:
    attempt_id: str  # our id of this attempt; also the idempotency/correlation key in headers
    channel: str  # a ChannelKind value, or CHAT
    to: str  # E.164 number, email address, or a chat target URL
    text: str  # SMS body, voice script, email plain text, chat post
    subject: str | None = None
    html: str | None = None
    validity_period_s: int | None = None  # drop an SMS still queued at the carrier after this long
    callback_token: str = ""  # opaque; goes into callback URLs so webhooks find the attempt


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took it; delivery is reported later
    INVALID = "invalid"  # the address can never work (unknown number, not a mobile, no such mailbox)
    OPTED_OUT = "opted_out"  # the person unsubscribed this number (texted STOP)
    RATE_LIMITED = "rate_limited"  # never processed; safe to retry after a backoff
    FAILED = "failed"  # a definite refusal: nothing was sent, retrying the same will not help
    UNKNOWN = "unknown"  # timeout, reset, 5xx: it may have been sent; never retried blindly


RETRYABLE = frozenset({Outcome.RATE_LIMITED})


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str | None = None  # the provider's message id (e.g. a message SID, a Message-ID)
    error_code: str | None = None  # the provider's own code, opaque outside its package
    detail: str = ""  # short, without contact data
    retry_after: float | None = None  # seconds, when the provider said so
    #: the provider failed (transport error, 5xx, timeout), not the address: counts toward failover
    provider_down: bool = False
    #: certainly nothing reached the provider (connection refused, DNS): another may be tried now
    not_sent: bool = False
    #: which provider answered (set by the failover layer)
    provider: str = ""


class Provider(Protocol):
    name: str
    channels: frozenset[str]  # of CHANNELS
    two_way: bool  # hands replies and delivery reports to the inbound port

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        """Send one message; never raises for provider or network errors."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class HealthChecked(Protocol):
    """Optional capability: tell whether the provider is up without sending anything."""

    async def healthy(self) -> bool: ...


@dataclass(frozen=True)
class SentQuery:
    """A message whose send outcome is unknown, as the dispatcher asks the provider about it."""

    channel: str  # a ChannelKind value
    to: str
    text: str  # the SMS body we sent (a call is matched without it)
    since: datetime  # it cannot have been created before this (the row became sendable)
    callback_token: str = ""


@dataclass(frozen=True)
class Found:
    """One message or call the provider has that could be the one asked about."""

    provider_id: str  # e.g. a message SID
    #: what the provider reports of it now, channel-neutral (None: nothing beyond "accepted")
    status: DeliveryStatus | None
    created_at: datetime
    sender: str | None = None  # the number (or messaging service) it went out from
    error_code: str | None = None
    provider: str = ""  # which provider has it (set by the failover layer)


class LookupFailed(Exception):
    """The provider could not be asked (down, refused, timed out): the outcome stays unknown."""


@runtime_checkable
class SupportsLookup(Protocol):
    """Optional capability: find what the provider really created for a message."""

    async def lookup(self, query: SentQuery) -> list[Found]:
        """Candidates the provider created for `query`, oldest first ([]: certainly none);
        raises `LookupFailed` when it cannot tell."""
        ...
