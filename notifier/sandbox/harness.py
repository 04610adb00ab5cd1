"""`Sandbox`: the Twilio fake plus SMTP sink as an async context manager, and `Device` for test scripts.

Usage (GoAlert-style):

    async with Sandbox(account_sid, auth_token, inbound_sms_url=..., clock=ScaledClock(100)) as sb:
        client.api.base_url = sb.url
        dev = sb.device("+32470000001")
        msg = await dev.expect_sms(r"Reply 1", timeout=5)
        await dev.reply("1")
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from notifier.clock import Clock, RealClock
from notifier.sandbox import gateway, messaging, smtp
from notifier.sandbox.core import InboundMessage, SandboxState
from notifier.sandbox.faults import Faults
from notifier.sandbox.personas import Persona, PersonaBook
from notifier.sandbox.records import PlacedCall, RawRequest, ReceivedEmail, SentMessage
from notifier.sandbox.twilio_api import build_app
from notifier.sandbox.webhooks import WebhookClient


class Sandbox:
    """A loopback Twilio (REST + signed callbacks) and SMTP sink on 127.0.0.1, free ports by default."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        inbound_sms_url: str | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        smtp_port: int | None = 0,
        personas: list[Persona] | None = None,
        faults: Faults | None = None,
        sender_segments_per_second: float | None = None,
        gateway_mo_url: str | None = None,
    ) -> None:
        self.state = SandboxState(
            account_sid=account_sid,
            auth_token=auth_token,
            clock=clock or RealClock(),
            inbound_sms_url=inbound_sms_url,
            faults=faults or Faults(),
            sender_segments_per_second=sender_segments_per_second,
        )
        self.state.limiter.faults = self.state.faults
        #: the SMS gateway stand-in (Kannel's sendsms) and the daemon's get-url its replies go to
        self.gateway_mo_url = gateway_mo_url
        self.gateway: gateway.Gateway | None = None
        self.state.personas.add(*(personas or []))
        self.host, self._port, self._smtp_port_wanted = host, port, smtp_port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        #: times the API stopped listening (`refuse_connections`)
        self.outages = 0
        self._smtp: asyncio.Server | None = None
        self.port = 0
        self.smtp_port = 0

    @property
    def url(self) -> str:
        """Base URL for `client.api.base_url` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def personas(self) -> PersonaBook:
        """Scripted destinations: `sb.personas.add(Persona(...))`."""
        return self.state.personas

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def messages(self) -> list[SentMessage]:
        return self.state.messages

    @property
    def calls(self) -> list[PlacedCall]:
        return self.state.calls

    @property
    def emails(self) -> list[ReceivedEmail]:
        return self.state.emails

    @property
    def inbound(self) -> list[InboundMessage]:
        return self.state.inbound

    @property
    def requests(self) -> list[RawRequest]:
        return self.state.requests

    @property
    def inbound_sms_url(self) -> str | None:
        return self.state.inbound_sms_url

    @inbound_sms_url.setter
    def inbound_sms_url(self, value: str | None) -> None:
        self.state.inbound_sms_url = value

    async def start(self) -> Sandbox:
        self.state.session = aiohttp.ClientSession()
        self.state.webhooks = WebhookClient(self.state.session)
        app = build_app(self.state)
        self.gateway = gateway.install(app, self.state, self.gateway_mo_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self._port)
        await self._site.start()
        self.port = int(self._runner.addresses[0][1])
        if self._smtp_port_wanted is not None:
            self._smtp = await smtp.start_smtp(self.state, self.host, self._smtp_port_wanted)
            self.smtp_port = self._smtp.sockets[0].getsockname()[1]
        return self

    async def refuse_connections(self, seconds: float) -> None:
        """The Twilio API is down for `seconds` on the sandbox clock: it stops listening (new
        connections are refused, as when the provider or the route to it is down), and a request
        that still arrives on an open keep-alive connection is answered 503/20503 before anything
        is created; a request already being answered gets its answer. Then it listens again on the
        same port. Webhooks to the daemon and personas' replies go on meanwhile."""
        assert self._runner is not None and self._site is not None, "sandbox not started"
        self.outages += 1
        was_down = self.state.faults.twilio_down
        self.state.faults.twilio_down = True
        await self._site.stop()
        try:
            await self.state.clock.sleep(seconds)
        finally:
            self._site = web.TCPSite(self._runner, self.host, self.port)
            await self._site.start()
            self.state.faults.twilio_down = was_down

    async def stop(self) -> None:
        await self.state.cancel_tasks()
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.state.webhooks is not None:
            await self.state.webhooks.close()
        if self.state.session is not None:
            await self.state.session.close()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def device(self, number: str) -> Device:
        """A handset at `number` that tests can wait on and reply from."""
        return Device(self, number)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every delivery, call and reply the sandbox started has finished."""
        async with asyncio.timeout(timeout):
            while self.state._tasks:
                await asyncio.gather(*list(self.state._tasks), return_exceptions=True)


class Device:
    """One phone number's view: messages and calls addressed to it, each returned once by `expect_*`."""

    def __init__(self, sandbox: Sandbox, number: str) -> None:
        self.sandbox = sandbox
        self.number = number
        self._seen: set[str] = set()
        self._seen_ids: set[int] = set()

    @property
    def persona(self) -> Persona:
        book: PersonaBook = self.sandbox.personas
        return book.for_number(self.number)

    async def expect_sms(self, pattern: str = "", timeout: float = 5.0) -> SentMessage:
        """The next not-yet-expected message to this number whose body matches `pattern` (re.search)."""
        regex = re.compile(pattern)

        def find() -> SentMessage | None:
            for message in self.sandbox.messages:
                if message.to == self.number and message.sid not in self._seen and regex.search(message.body):
                    return message
            return None

        message: SentMessage = await self._wait(find, timeout, f"SMS matching {pattern!r}")
        self._seen.add(message.sid)
        return message

    async def expect_call(
        self,
        pattern: str = "",
        timeout: float = 5.0,
        finished: bool = True,
    ) -> PlacedCall:
        """The next call to this number, by default once it ended, whose transcript matches `pattern`."""
        regex = re.compile(pattern)

        def find() -> PlacedCall | None:
            for call in self.sandbox.calls:
                if call.to != self.number or call.sid in self._seen or (finished and not call.finished):
                    continue
                if not pattern or regex.search(call.transcript):
                    return call
            return None

        call: PlacedCall = await self._wait(find, timeout, f"call matching {pattern!r}")
        self._seen.add(call.sid)
        return call

    async def expect_email(self, pattern: str = "", timeout: float = 5.0) -> ReceivedEmail:
        """The next mail to this device's persona email address whose subject or text matches `pattern`."""
        address = (self.persona.email or self.number).lower()
        regex = re.compile(pattern)

        def find() -> ReceivedEmail | None:
            for email in self.sandbox.emails:
                to = [a.lower() for a in email.envelope_to]
                if (
                    address in to
                    and id(email) not in self._seen_ids
                    and (regex.search(email.subject) or regex.search(email.text()))
                ):
                    return email
            return None

        email: ReceivedEmail = await self._wait(find, timeout, f"email matching {pattern!r}")
        self._seen_ids.add(id(email))
        return email

    async def _wait(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        try:
            return await self.sandbox.state.wait_for(find, timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} to {self.number} within {timeout} s") from None

    async def reply(self, body: str, to: str | None = None) -> InboundMessage:
        """Send `body` now to `to` (default: the sender of the latest message this device received)."""
        if to is None:
            received = [m for m in self.sandbox.messages if m.to == self.number]
            if not received:
                raise AssertionError(f"{self.number} has received no message to reply to; pass to=")
            to = messaging.sender_key(received[-1])
        return await messaging.send_inbound(self.sandbox.state, self.number, to, body)
