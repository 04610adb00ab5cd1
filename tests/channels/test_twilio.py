"""TwilioProvider against the loopback Twilio sandbox (real SDK, real HTTP, signed callbacks back).

A small aiohttp app stands in for the daemon's webhooks: it serves the call TwiML built by
`notifier.channels.twilio.voice`, records keypresses and status callbacks, and checks each Twilio
signature with the SDK's own RequestValidator.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from notifier.channels.base import OutboundMessage, Outcome, SentQuery
from notifier.channels.twilio import TwilioProvider, classify_rest_error
from notifier.channels.twilio.provider import classify_exception
from notifier.channels.twilio.voice import VoiceUrls, digits_response, voice_document
from notifier.clock import ScaledClock
from notifier.domain.plan import ChannelKind
from notifier.sandbox import Persona, Sandbox, preset

ACCOUNT_SID = "AC" + "5eed0000" * 4
AUTH_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SENDER = "+15005550006"
ALICE = "+32470000001"  # coordinator of the SEED recovery team (fictitious)
SCRIPT = "Continuity alert for SEED: excise database unavailable. Convene on the bridge at 07:00."


@dataclass
class Daemon:
    """The webhook side: what Twilio posted to us, by path."""

    url: str = ""
    hits: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)

    def of(self, path: str) -> list[dict[str, str]]:
        return [params for p, params, _ in self.hits if p == path]


@pytest.fixture
async def daemon() -> AsyncIterator[Daemon]:
    state = Daemon()
    validator = RequestValidator(AUTH_TOKEN)

    async def hook(request: web.Request) -> web.Response:
        form = await request.post()
        params = {k: str(v) for k, v in form.items()}
        signed = validator.validate(str(request.url), params, request.headers.get("X-Twilio-Signature", ""))
        path = request.path.rsplit("/", 1)[-1]
        state.hits.append((path, {**params, **request.query}, signed))
        urls = VoiceUrls(state.url, request.query.get("t", ""))
        if path == "voice":
            twiml = voice_document(
                SCRIPT, urls, params.get("AnsweredBy"), repeated=request.query.get("repeat") == "1"
            )
            return web.Response(text=twiml, content_type="text/xml")
        if path == "gather":
            return web.Response(
                text=digits_response(params.get("Digits"), SCRIPT, urls), content_type="text/xml"
            )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/twilio/{name}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def sandbox(daemon: Daemon) -> AsyncIterator[Sandbox]:
    async with Sandbox(ACCOUNT_SID, AUTH_TOKEN, clock=ScaledClock(50), smtp_port=None) as sb:
        yield sb


@pytest.fixture
async def provider(sandbox: Sandbox, daemon: Daemon) -> AsyncIterator[TwilioProvider]:
    p = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, public_base_url=daemon.url, base_url=sandbox.url, timeout=3)
    yield p
    await p.close()


def sms(
    to: str = ALICE, token: str = "tok-sms-1", text: str = "DRILL: SEED test (ref K7Q)"
) -> OutboundMessage:
    return OutboundMessage(
        attempt_id="att-1",
        channel=ChannelKind.SMS,
        to=to,
        text=text,
        validity_period_s=1800,
        callback_token=token,
    )


def call(to: str = ALICE, token: str = "tok-call-1") -> OutboundMessage:
    return OutboundMessage(
        attempt_id="att-2", channel=ChannelKind.VOICE, to=to, text=SCRIPT, callback_token=token
    )


async def test_sms_accepted_with_callback_url_and_validity(
    provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon
) -> None:
    result = await provider.send(sms(), SENDER)
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id is not None and result.provider_id.startswith("SM")
    [sent] = sandbox.messages
    assert (sent.to, sent.from_, sent.validity_period) == (ALICE, SENDER, 1800)
    assert sent.status_callback == f"{daemon.url}/webhooks/twilio/status?t=tok-sms-1"
    await sandbox.wait_idle(timeout=5)
    statuses = daemon.of("status")
    assert statuses[-1]["MessageStatus"] == "delivered"
    assert all(h["t"] == "tok-sms-1" and h["MessageSid"] == result.provider_id for h in statuses)
    assert all(signed for _, _, signed in daemon.hits)


async def test_messaging_service_sid_as_sender(provider: TwilioProvider, sandbox: Sandbox) -> None:
    service = "MG" + "0" * 32
    result = await provider.send(sms(), service)
    assert result.outcome is Outcome.ACCEPTED
    assert sandbox.messages[0].messaging_service_sid == service


async def test_invalid_and_opted_out_numbers(provider: TwilioProvider, sandbox: Sandbox) -> None:
    sandbox.personas.add(preset("invalid_number", "+32470000002"), preset("opted_out", "+32470000003"))
    invalid = await provider.send(sms("+32470000002"), SENDER)
    assert (invalid.outcome, invalid.error_code) == (Outcome.INVALID, "21211")
    opted = await provider.send(sms("+32470000003"), SENDER)
    assert (opted.outcome, opted.error_code) == (Outcome.OPTED_OUT, "21610")
    assert "+32470000003" not in opted.detail


async def test_429_is_rate_limited_and_a_retry_then_succeeds(
    provider: TwilioProvider, sandbox: Sandbox
) -> None:
    sandbox.faults.next_429s(1)
    first = await provider.send(sms(), SENDER)
    assert (first.outcome, first.error_code) == (Outcome.RATE_LIMITED, "20429")
    assert sandbox.messages == []
    second = await provider.send(sms(), SENDER)
    assert second.outcome is Outcome.ACCEPTED
    assert len(sandbox.messages) == 1


async def test_5xx_after_create_is_unknown_and_never_retried_by_the_sdk(
    provider: TwilioProvider, sandbox: Sandbox
) -> None:
    sandbox.faults.error_5xx_ratio = 1.0
    sandbox.faults.error_5xx_after_create = True
    result = await provider.send(sms(), SENDER)
    assert result.outcome is Outcome.UNKNOWN
    assert result.error_code == "20500"
    creates = [r for r in sandbox.requests if r.path.endswith("/Messages.json")]
    assert len(creates) == 1  # one POST: the SDK did not retry it behind our back
    assert len(sandbox.messages) == 1  # ... and it was in fact created, which is why UNKNOWN


async def test_timeout_is_unknown(sandbox: Sandbox, daemon: Daemon) -> None:
    sandbox.faults.slow_seconds = 2.0
    slow = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, daemon.url, base_url=sandbox.url, timeout=0.3)
    try:
        result = await slow.send(sms(), SENDER)
    finally:
        await slow.close()
    assert (result.outcome, result.error_code) == (Outcome.UNKNOWN, "timeout")


async def test_connection_refused_is_failed_nothing_sent(daemon: Daemon) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    dead = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, daemon.url, base_url=f"http://127.0.0.1:{closed_port}")
    try:
        result = await dead.send(sms(), SENDER)
    finally:
        await dead.close()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "connect")


async def test_wrong_credentials_fail(sandbox: Sandbox, daemon: Daemon) -> None:
    wrong = TwilioProvider(ACCOUNT_SID, "not-the-token", daemon.url, base_url=sandbox.url)
    try:
        result = await wrong.send(sms(), SENDER)
    finally:
        await wrong.close()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "20003")


async def test_call_confirmed_by_keypress(provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon) -> None:
    sandbox.personas.add(Persona(number=ALICE, digits="1", ring_seconds=1))
    result = await provider.send(call(), SENDER)
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id is not None and result.provider_id.startswith("CA")
    placed = await sandbox.device(ALICE).expect_call(timeout=10)
    assert any("SEED" in s for s in placed.said)
    [gather] = daemon.of("gather")
    assert (gather["Digits"], gather["t"]) == ("1", "tok-call-1")
    events = [h["CallStatus"] for h in daemon.of("call-status")]
    assert events[0] == "initiated" and events[-1] == "completed" and "in-progress" in events
    assert all(signed for _, _, signed in daemon.hits)


async def test_call_repeat_then_decline(provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon) -> None:
    sandbox.personas.add(Persona(number=ALICE, digits="9,2", ring_seconds=1))
    await provider.send(call(), SENDER)
    placed = await sandbox.device(ALICE).expect_call(timeout=10)
    assert [g["Digits"] for g in daemon.of("gather")] == ["9", "2"]
    assert sum("SEED" in s for s in placed.said) == 2  # the message was read again after 9
    assert any("cannot respond" in s for s in placed.said)


async def test_wrong_key_gets_the_menu_again(
    provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon
) -> None:
    sandbox.personas.add(Persona(number=ALICE, digits="5,1", ring_seconds=1))
    await provider.send(call(), SENDER)
    placed = await sandbox.device(ALICE).expect_call(timeout=10)
    assert [g["Digits"] for g in daemon.of("gather")] == ["5", "1"]
    assert any("not an option" in s for s in placed.said)
    assert any("confirmation has been recorded" in s for s in placed.said)


async def test_silence_repeats_once_then_goodbye(
    provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon
) -> None:
    sandbox.personas.add(Persona(number=ALICE, ring_seconds=1))
    await provider.send(call(), SENDER)
    placed = await sandbox.device(ALICE).expect_call(timeout=15)
    assert sum("SEED" in s for s in placed.said) == 2
    assert placed.said[-1].endswith("Goodbye.")
    assert len(daemon.of("voice")) == 1  # the repetition is in the same document
    assert daemon.of("gather") == []


async def test_answering_machine_gets_message_without_menu(
    provider: TwilioProvider, sandbox: Sandbox, daemon: Daemon
) -> None:
    sandbox.personas.add(preset("machine", ALICE, ring_seconds=1))
    await provider.send(call(), SENDER)
    placed = await sandbox.device(ALICE).expect_call(timeout=10)
    assert daemon.of("voice")[0]["AnsweredBy"].startswith("machine")
    assert any("SEED" in s for s in placed.said)
    assert not any("Press 1" in s for s in placed.said)
    assert daemon.of("gather") == []


async def test_call_without_sender_and_email_channel_fail_fast(provider: TwilioProvider) -> None:
    assert (await provider.send(call(), None)).outcome is Outcome.FAILED
    email = OutboundMessage("att-3", ChannelKind.EMAIL, "j.doe@example.org", "x", subject="s")
    assert (await provider.send(email, SENDER)).outcome is Outcome.FAILED


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (201, None, Outcome.UNKNOWN),
        (429, 20429, Outcome.RATE_LIMITED),
        (429, None, Outcome.RATE_LIMITED),
        (400, 21610, Outcome.OPTED_OUT),
        (400, 21211, Outcome.INVALID),
        (400, 21614, Outcome.INVALID),
        (400, 21408, Outcome.FAILED),
        (401, 20003, Outcome.FAILED),
        (404, 20404, Outcome.FAILED),
        (500, 20500, Outcome.UNKNOWN),
        (503, None, Outcome.UNKNOWN),
        (503, 20503, Outcome.FAILED),
    ],
)
def test_rest_error_table(status: int, code: int | None, outcome: Outcome) -> None:
    assert classify_rest_error(status, code) is outcome


def test_service_unavailable_is_certainly_not_sent_and_a_plain_500_may_have_been() -> None:
    unavailable = classify_exception(TwilioRestException(503, "/Messages.json", "Service Unavailable", 20503))
    ambiguous = classify_exception(TwilioRestException(500, "/Messages.json", "Internal Server Error", 20500))
    assert (unavailable.not_sent, unavailable.provider_down) == (True, True)
    assert (ambiguous.outcome, ambiguous.not_sent) == (Outcome.UNKNOWN, False)


async def test_lookup_finds_a_call_and_a_message_whose_answer_was_lost(
    provider: TwilioProvider, sandbox: Sandbox
) -> None:
    """Reconciliation asks for a message or call whose send outcome we lost: each is found with its
    SID and From number (the SDK names it `from_` on a Message, `_from` on a Call)."""
    since = sandbox.state.clock.now() - timedelta(seconds=1)
    sandbox.faults.error_5xx_ratio = 1.0
    sandbox.faults.error_5xx_after_create = True
    assert (await provider.send(call(), SENDER)).outcome is Outcome.UNKNOWN
    assert (await provider.send(sms(), SENDER)).outcome is Outcome.UNKNOWN
    sandbox.faults.error_5xx_ratio = 0.0
    [placed] = await provider.lookup(SentQuery(channel="voice", to=ALICE, text=call().text, since=since))
    [message] = await provider.lookup(SentQuery(channel="sms", to=ALICE, text=sms().text, since=since))
    assert (placed.provider_id, placed.sender) == (sandbox.calls[0].sid, SENDER)
    assert (message.provider_id, message.sender) == (sandbox.messages[0].sid, SENDER)
    assert await provider.lookup(SentQuery(channel="sms", to=ALICE, text="another body", since=since)) == []
