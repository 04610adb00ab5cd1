"""Twilio SMS and voice through the official SDK's asyncio client.

Retries are ours, not the SDK's: `AsyncTwilioHttpClient(max_retries=...)` would make aiohttp-retry
repeat a POST after a 5xx or a dropped connection, and a POST that reached Twilio has already
queued the SMS or placed the call - the person would be paged twice. We therefore send each
request exactly once and report what we know:

| what happened                                   | Outcome      | why                                   |
|-------------------------------------------------|--------------|---------------------------------------|
| 201 Created                                     | ACCEPTED     | Twilio queued it; callbacks follow    |
| HTTP 429 or Twilio code 20429                   | RATE_LIMITED | "never processed ... safe to retry"   |
| code 21610 (unsubscribed recipient)             | OPTED_OUT    | the person sent STOP to this sender   |
| codes 21211, 21214, 21217, 21401, 21407, 21421, | INVALID      | the destination can never work:       |
| 21612, 21614                                    |              | invalid, unroutable, not mobile       |
| any other 4xx (auth 20003, From 21606, geo      | FAILED       | refused before anything was sent;     |
| permission 21408/21215, schema 21xxx)           |              | the same request will fail again      |
| 503 with code 20503 (service unavailable)       | FAILED       | refused before handling: not created  |
| other 5xx, other TwilioException                | UNKNOWN      | Twilio may have created it anyway     |
| timeout, connection reset/closed, bad payload   | UNKNOWN      | the request may have been processed   |
| TCP connect failure (refused, DNS)              | FAILED       | nothing reached Twilio, nothing sent  |

5xx, timeouts, transport errors and refused connections also set `provider_down` (the failover
layer counts them); a refused connection, a 503/20503 and a 401 set `not_sent` (another provider
may be tried at once, and the dispatcher retries the same attempt later: nothing was created).

Timeouts are ours too: twilio 9.13's `AsyncTwilioHttpClient` stores its `timeout` argument but
never passes it to aiohttp (whose default is 300 s), so each request runs under `asyncio.timeout`.
The SDK's own request log goes to a quiet logger; our log lines carry masked numbers only.

`lookup` (the optional capability of `channels/base.py`) finds what Twilio created for a message
whose send outcome we lost: it lists Messages (or Calls) `To` the number, newest first, page by
page until the records are older than the message could be, and keeps the outbound ones created
since then (for an SMS, with the body we sent). Twilio's Message and Call resources do not show the
StatusCallback URL, so the callback token cannot be searched for; `DateSent` / `StartTime` are not
used as filters either, because a message still queued behind a sender's rate has no `date_sent`
and a call not yet answered no `start_time`: both would be missed and sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from notifier.channels.base import Found, LookupFailed, OutboundMessage, Outcome, SendResult, SentQuery
from notifier.channels.twilio.status import delivery_status
from notifier.domain.masking import mask_address, mask_text
from notifier.domain.plan import ChannelKind

log = structlog.get_logger(__name__)

INVALID_DESTINATION_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21421, 21612, 21614})
OPTED_OUT_CODES = frozenset({21610})
RATE_LIMIT_CODES = frozenset({20429})
#: a 5xx that refuses the request before handling it (service unavailable): nothing was created
NOT_CREATED_CODES = frozenset({20503})
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
RING_TIMEOUT_S = 30  # seconds to ring before Twilio reports no-answer
LOOKUP_PAGE_SIZE = 50
LOOKUP_MAX_PAGES = 20  # 1,000 messages to one number since the message was queued: enough
#: Twilio's clock and ours may differ a little; a record this much older still counts
CLOCK_SKEW = timedelta(seconds=30)


def classify_rest_error(status: int, code: int | None) -> Outcome:
    """Map a Twilio REST error (HTTP status, Twilio error code) to an Outcome (table above)."""
    if status == 429 or code in RATE_LIMIT_CODES:
        return Outcome.RATE_LIMITED
    if code in OPTED_OUT_CODES:
        return Outcome.OPTED_OUT
    if code in INVALID_DESTINATION_CODES:
        return Outcome.INVALID
    if 400 <= status < 500 or code in NOT_CREATED_CODES:
        return Outcome.FAILED
    return Outcome.UNKNOWN


def classify_exception(exc: BaseException) -> SendResult:
    """Map anything `create_async` may raise to a SendResult (never re-raised)."""
    if isinstance(exc, TwilioRestException):
        code = str(exc.code) if exc.code is not None else str(exc.status)
        outcome = classify_rest_error(exc.status, exc.code)
        # 5xx: Twilio is failing; 401: our credentials are refused, nothing can be sent through it
        down = exc.status >= 500 or exc.status == 401
        return SendResult(
            outcome,
            error_code=code,
            detail=mask_text(f"HTTP {exc.status}: {exc.msg}"),
            provider_down=down,
            not_sent=exc.status == 401 or exc.code in NOT_CREATED_CODES,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SendResult(
            Outcome.FAILED,
            error_code="connect",
            detail=f"could not connect: {exc.strerror}",
            provider_down=True,
            not_sent=True,
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return SendResult(
            Outcome.UNKNOWN,
            error_code="timeout",
            detail="no answer in time; may have been sent",
            provider_down=True,
        )
    if isinstance(exc, aiohttp.ClientError):
        return SendResult(
            Outcome.UNKNOWN, error_code="transport", detail=type(exc).__name__, provider_down=True
        )
    if isinstance(exc, TwilioException):
        return SendResult(
            Outcome.UNKNOWN, error_code="twilio", detail=mask_text(str(exc))[:200], provider_down=True
        )
    return SendResult(Outcome.UNKNOWN, error_code="internal", detail=type(exc).__name__)


class TwilioProvider:
    """SMS and voice via Twilio; `base_url` points the SDK at the sandbox in tests and demos."""

    name = "twilio"
    channels = frozenset({ChannelKind.SMS.value, ChannelKind.VOICE.value})
    two_way = True

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        public_base_url: str,
        base_url: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        # no max_retries, on purpose: see the module docstring
        self._http = AsyncTwilioHttpClient(
            timeout=timeout, logger=logging.getLogger("notifier.channels.twilio.http")
        )
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # the SDK imports its API modules on first use, stalling the loop for a moment; pay that
        # at start-up rather than in the middle of the first fan-out
        _ = (self._client.messages, self._client.calls)
        if base_url is not None:
            self._client.api.base_url = base_url.rstrip("/")

    def webhook_url(self, path: str, token: str, **extra: str) -> str:
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"t": token, **extra}.items())
        return f"{self.public_base_url}/webhooks/twilio/{path}?{query}"

    def _sms_params(self, msg: OutboundMessage, sender: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "to": msg.to,
            "body": msg.text,
            "status_callback": self.webhook_url("status", msg.callback_token),
        }
        if sender and sender.startswith("MG"):
            params["messaging_service_sid"] = sender
        elif sender:
            params["from_"] = sender
        if msg.validity_period_s is not None:
            params["validity_period"] = max(1, min(36000, msg.validity_period_s))
        return params

    def _call_params(self, msg: OutboundMessage, sender: str | None) -> dict[str, Any]:
        return {
            "to": msg.to,
            "from_": sender,
            "url": self.webhook_url("voice", msg.callback_token),
            "status_callback": self.webhook_url("call-status", msg.callback_token),
            "status_callback_event": CALL_EVENTS,
            "status_callback_method": "POST",
            "machine_detection": "Enable",
            "timeout": RING_TIMEOUT_S,
        }

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        if msg.channel not in self.channels:
            return SendResult(
                Outcome.FAILED, error_code="channel", detail=f"twilio cannot send {msg.channel}"
            )
        if msg.channel == ChannelKind.VOICE and not sender:
            return SendResult(Outcome.FAILED, error_code="sender", detail="a call needs a From number")
        bound = log.bind(attempt_id=msg.attempt_id, channel=str(msg.channel), to=mask_address(msg.to))
        try:
            async with asyncio.timeout(self.timeout):
                if msg.channel == ChannelKind.SMS:
                    created: Any = await self._client.messages.create_async(**self._sms_params(msg, sender))
                else:
                    created = await self._client.calls.create_async(**self._call_params(msg, sender))
        except Exception as exc:  # every failure becomes an Outcome; nothing escapes to the engine
            result = classify_exception(exc)
            bound.warning("twilio.send_failed", outcome=str(result.outcome), code=result.error_code)
            return result
        bound.info("twilio.accepted", sid=created.sid)
        return SendResult(Outcome.ACCEPTED, provider_id=created.sid, detail=str(created.status or ""))

    async def healthy(self) -> bool:
        """Twilio answers a fetch of our own account (the failover layer's health check)."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._client.api.v2010.accounts(self._client.account_sid).fetch_async()
        except Exception:  # refused, 5xx, timeout, credentials: not in a state to send
            return False
        return True

    async def close(self) -> None:
        await self._http.close()

    async def lookup(self, query: SentQuery) -> list[Found]:
        """What Twilio created for `query` (see the module docstring), oldest first."""
        if query.channel not in self.channels:
            return []
        since = query.since - CLOCK_SKEW
        listing: Any = self._client.messages if query.channel == ChannelKind.SMS else self._client.calls
        found: list[Found] = []
        try:
            async with asyncio.timeout(self.timeout * 3):
                page: Any = await listing.page_async(to=query.to, page_size=LOOKUP_PAGE_SIZE)
                for _ in range(LOOKUP_MAX_PAGES):
                    older = False
                    for record in page:
                        created = record.date_created
                        if created is None:
                            continue
                        if created < since:
                            older = True  # newest first: the rest are older still
                            break
                        if _matches(record, query):
                            found.append(_found(record))
                    if older:
                        break
                    page = await page.next_page_async()
                    if page is None:
                        break
        except Exception as exc:  # down, refused, timed out, refused to list: we cannot tell
            log.warning(
                "twilio.lookup_failed",
                to=mask_address(query.to),
                error=classify_exception(exc).error_code,
                cause=type(exc).__name__,
            )
            raise LookupFailed(type(exc).__name__) from exc
        found.reverse()
        return found


def _matches(record: Any, query: SentQuery) -> bool:
    if not str(record.direction or "").startswith("outbound"):
        return False
    return query.channel != ChannelKind.SMS or record.body == query.text


def _found(record: Any) -> Found:
    error = getattr(record, "error_code", None)
    code = str(error) if error not in (None, "") else None
    return Found(
        provider_id=str(record.sid),
        status=delivery_status(str(record.status or ""), getattr(record, "answered_by", None), code),
        created_at=record.date_created,
        sender=str(_sender(record) or getattr(record, "messaging_service_sid", None) or "") or None,
        error_code=code,
        provider="twilio",
    )


def _sender(record: Any) -> str | None:
    """The From number: the SDK names it `from_` on a Message and `_from` on a Call."""
    return getattr(record, "from_", None) or getattr(record, "_from", None)
