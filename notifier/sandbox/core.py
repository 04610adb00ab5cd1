"""The sandbox's shared state and its outgoing webhooks (signed exactly as Twilio signs them)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from notifier.clock import Clock
from notifier.sandbox.faults import Faults, Limiter
from notifier.sandbox.personas import PersonaBook
from notifier.sandbox.records import (
    Callback,
    PlacedCall,
    RawRequest,
    ReceivedEmail,
    SentMessage,
)
from notifier.sandbox.signing import SIGNATURE_HEADER, form_items, sign
from notifier.sandbox.webhooks import WebhookClient, WebhookError


@dataclass
class InboundMessage:
    """A message a persona (or a test) sent to one of our numbers."""

    sid: str
    from_: str
    to: str
    body: str
    callback: Callback


@dataclass
class SandboxState:
    """Everything the Twilio fake, the SMTP sink and the harness share."""

    account_sid: str
    auth_token: str
    clock: Clock
    inbound_sms_url: str | None = None
    personas: PersonaBook = field(default_factory=PersonaBook)
    faults: Faults = field(default_factory=Faults)
    messages: list[SentMessage] = field(default_factory=list)
    calls: list[PlacedCall] = field(default_factory=list)
    emails: list[ReceivedEmail] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    requests: list[RawRequest] = field(default_factory=list)
    opt_outs: set[tuple[str, str]] = field(default_factory=set)
    sender_segments_per_second: float | None = None
    sender_free_at: dict[str, datetime] = field(default_factory=dict)
    limiter: Limiter = field(init=False)
    session: aiohttp.ClientSession | None = None
    webhooks: WebhookClient | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.limiter = Limiter(self.faults)

    def spawn(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run a background lifecycle (delivery, call, reply) owned by the sandbox."""
        task = asyncio.get_running_loop().create_task(factory())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def queue_delay(self, sender: str, segments: int) -> float:
        """Seconds a message waits in its sender's queue (Twilio sends a long code's SMS at 1 segment/s)."""
        if not self.sender_segments_per_second:
            return 0.0
        now = self.clock.now()
        start = max(now, self.sender_free_at.get(sender, now))
        self.sender_free_at[sender] = start + timedelta(seconds=segments / self.sender_segments_per_second)
        return (start - now).total_seconds()

    async def changed(self) -> None:
        """Wake every waiter (`Device.expect_*`) after a record changed."""
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """The first truthy `predicate()` result, re-evaluated on every change; wall-clock timeout."""
        async with asyncio.timeout(timeout), self._changed:
            result = predicate()
            while not result:
                await self._changed.wait()
                result = predicate()
            return result

    async def webhook(self, kind: str, url: str, params: dict[str, Any], method: str = "POST") -> Callback:
        """Send a signed webhook as Twilio does and record what came back."""
        callback = Callback(kind=kind, url=url, params=dict(params), status=None, at=self.clock.now())
        assert self.session is not None, "sandbox not started"
        if self.webhooks is None or self.webhooks.session is not self.session:
            self.webhooks = WebhookClient(self.session)
        items = form_items(params)
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        # Sign the URL exactly as it goes on the wire: yarl normalises percent-escapes on send.
        body: bytes | None = None
        if method.upper() == "GET":
            target = URL(url + ("&" if "?" in url else "?") + urlencode(items) if items else url)
            headers[SIGNATURE_HEADER] = sign(self.auth_token, str(target), {})
        else:
            target = URL(url)
            headers[SIGNATURE_HEADER] = sign(self.auth_token, str(target), params)
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            body = urlencode(items).encode("utf-8")
        try:
            reply = await self.webhooks.send("GET" if body is None else "POST", target, headers, body)
            callback.status, callback.body = reply.status, reply.body
        except (aiohttp.ClientError, WebhookError, TimeoutError) as exc:
            callback.body = f"{type(exc).__name__}: {exc}"
        await self.changed()
        return callback
