"""SmtpProvider against a real aiosmtpd server on a free loopback port."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifier.channels.base import OutboundMessage, Outcome
from notifier.channels.smtp import ATTEMPT_HEADER, SmtpProvider
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind

SENDER = "notifier@example.org"
UNKNOWN_USER = "nobody@example.org"
GREYLISTED = "greylisted@example.org"
SLOW_DATA = "slow@example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Relay:
    """An aiosmtpd handler that refuses some recipients, stalls some DATA, and keeps the rest."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.data_started: list[bytes] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == UNKNOWN_USER:
            return "550 5.1.1 No such user here"
        if address == GREYLISTED:
            return "450 4.2.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started.append(envelope.content)
        if SLOW_DATA in envelope.rcpt_tos:
            await asyncio.sleep(3)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _mail(to: str = "j.doe@example.org", html: bool = True) -> OutboundMessage:
    rendered = render(
        MessageKind.ACTIVATION,
        ChannelKind.EMAIL,
        MessageFields(
            nature="EOS declarations rejected since 09:00",
            service="EOS",
            ref="K7Q",
            ack_url="https://notifier.example.org/ack/tok-1",
        ),
    )
    return OutboundMessage(
        attempt_id="att-email-1",
        channel=ChannelKind.EMAIL,
        to=to,
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html if html else None,
        callback_token="tok-1",
    )


async def test_multipart_mail_is_delivered_with_headers(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    provider = SmtpProvider("127.0.0.1", port, SENDER, timeout=5)
    result = await provider.send(_mail(), None)
    assert result.outcome is Outcome.ACCEPTED
    [received] = handler.received
    assert handler.envelopes == [(SENDER, ["j.doe@example.org"])]
    assert received["Subject"] == "EOS: EOS declarations rejected since 09:00 (ref K7Q)"
    assert received[ATTEMPT_HEADER] == "att-email-1"
    assert received["Message-ID"] == result.provider_id
    assert received["Message-ID"].endswith("@example.org>")
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(preferencelist=("plain",))
    rich = received.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert "https://notifier.example.org/ack/tok-1" in plain.get_content()
    assert '<a href="https://notifier.example.org/ack/tok-1">' in rich.get_content()


async def test_text_only_and_sender_override(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    provider = SmtpProvider("127.0.0.1", port, SENDER)
    result = await provider.send(_mail(html=False), "continuity@example.org")
    assert result.outcome is Outcome.ACCEPTED
    assert handler.received[0].get_content_type() == "text/plain"
    assert handler.envelopes[0][0] == "continuity@example.org"


async def test_unknown_recipient_is_invalid(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = await SmtpProvider("127.0.0.1", port, SENDER).send(_mail(UNKNOWN_USER), None)
    assert (result.outcome, result.error_code) == (Outcome.INVALID, "550")
    assert handler.received == []


async def test_temporary_refusal_is_retryable(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = await SmtpProvider("127.0.0.1", port, SENDER).send(_mail(GREYLISTED), None)
    assert (result.outcome, result.error_code) == (Outcome.RATE_LIMITED, "450")
    assert handler.received == []


async def test_timeout_during_data_is_unknown(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = await SmtpProvider("127.0.0.1", port, SENDER, timeout=0.5).send(_mail(SLOW_DATA), None)
    assert (result.outcome, result.error_code) == (Outcome.UNKNOWN, "transport")
    # the whole message had reached the relay when we gave up: it may well deliver it
    assert len(handler.data_started) == 1 and b"EOS declarations rejected" in handler.data_started[0]


async def test_connection_refused_is_failed() -> None:
    result = await SmtpProvider("127.0.0.1", _free_port(), SENDER, timeout=2).send(_mail(), None)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "connect")


async def test_silent_server_times_out_before_anything_is_sent() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never greets
    port = server.sockets[0].getsockname()[1]
    try:
        result = await SmtpProvider("127.0.0.1", port, SENDER, timeout=0.3).send(_mail(), None)
    finally:
        server.close()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "connect")


async def test_login_against_auth_server() -> None:
    handler = Relay()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"notifier", b"s3cret")
        return AuthResult(success=ok, handled=False)

    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,  # loopback test server; production relays use start_tls/use_tls
    )
    controller.start()
    try:
        good = await SmtpProvider("127.0.0.1", port, SENDER, "notifier", "s3cret").send(_mail(), None)
        bad = await SmtpProvider("127.0.0.1", port, SENDER, "notifier", "wrong").send(_mail(), None)
    finally:
        controller.stop()
    assert good.outcome is Outcome.ACCEPTED
    assert (bad.outcome, bad.error_code) == (Outcome.FAILED, "535")
    assert len(handler.received) == 1


async def test_header_injection_and_non_email_channels_are_refused(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    provider = SmtpProvider("127.0.0.1", port, SENDER)
    evil = OutboundMessage(
        "att-x", ChannelKind.EMAIL, "a@example.org\r\nBcc: b@example.org", "x", subject="s"
    )
    assert (await provider.send(evil, None)).outcome in {Outcome.INVALID, Outcome.FAILED}
    sms = OutboundMessage("att-y", ChannelKind.SMS, "+32470000001", "x")
    assert (await provider.send(sms, None)).outcome is Outcome.FAILED
    assert handler.received == []
