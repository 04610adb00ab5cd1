"""Outbound SMS through the real twilio SDK: wire format, signed callbacks, refusals Twilio would give."""

from __future__ import annotations

import itertools
import re

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from notifier.clock import ScaledClock
from notifier.sandbox import Persona, Sandbox, preset

from .conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER, Receiver

ANNA = "+32470000001"
BODY = "ITSCM activation: SEED unavailable (RTO 4h). Reply 1 to confirm, 2 if you cannot respond (ref K7Q)"


async def test_create_returns_twilio_shaped_201_and_signed_status_callbacks(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    message = await client.messages.create_async(
        to=ANNA, from_=SENDER, body=BODY, status_callback=f"{receiver.url}/status/sms", validity_period=600
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert message.to == ANNA and message.from_ == SENDER and message.body == BODY
    assert message.account_sid == ACCOUNT_SID
    assert message.price is None and message.error_code is None
    assert message.num_segments == "1"
    assert message.date_created is not None
    assert sandbox.messages[0].validity_period == 600

    await sandbox.wait_idle()
    hits = receiver.on("/status/sms")
    assert [h.params["MessageStatus"] for h in hits] == [["queued"], ["sent"], ["delivered"]]
    assert all(h.signature_valid for h in hits)
    last = hits[-1].params
    assert last["MessageSid"] == [message.sid] and last["SmsSid"] == [message.sid]
    assert last["AccountSid"] == [ACCOUNT_SID] and last["To"] == [ANNA] and last["From"] == [SENDER]
    assert last["ApiVersion"] == ["2010-04-01"] and "ErrorCode" not in last

    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.status == "delivered" and fetched.date_sent is not None


async def test_undelivered_persona_reports_error_code(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(Persona(ANNA, sms_delivery="undelivered"))
    await client.messages.create_async(
        to=ANNA, from_=SENDER, body=BODY, status_callback=f"{receiver.url}/status/sms"
    )
    await sandbox.wait_idle()
    final = receiver.on("/status/sms")[-1].params
    assert final["MessageStatus"] == ["undelivered"] and final["ErrorCode"] == ["30003"]


async def test_long_unicode_body_counts_ucs2_segments(sandbox: Sandbox, client: Client) -> None:
    message = await client.messages.create_async(to=ANNA, from_=SENDER, body="Ελλάδα EOS " * 10)
    assert message.num_segments == "2"


@pytest.mark.parametrize("to", ["0470 00 00 01", "+0470000001", "32470000001"])
async def test_non_e164_to_is_21211(client: Client, to: str) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=to, from_=SENDER, body=BODY)
    assert caught.value.status == 400 and caught.value.code == 21211


async def test_invalid_number_persona_is_21211(sandbox: Sandbox, client: Client) -> None:
    sandbox.personas.add(preset("invalid_number", ANNA))
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert caught.value.code == 21211
    assert sandbox.messages == []


async def test_opted_out_persona_is_21610(sandbox: Sandbox, client: Client) -> None:
    sandbox.personas.add(preset("opted_out", ANNA))
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert caught.value.status == 400 and caught.value.code == 21610


async def test_stop_reply_is_forwarded_and_opts_out_that_sender_only(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    await sandbox.device(ANNA).reply("STOP")
    forwarded = receiver.on("/webhooks/twilio/sms")
    assert forwarded[-1].params["Body"] == ["STOP"] and forwarded[-1].signature_valid
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert caught.value.code == 21610
    await client.messages.create_async(to=ANNA, from_="+15005550007", body=BODY)
    await sandbox.device(ANNA).reply("START", to=SENDER)
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)


async def test_wrong_auth_token_is_401_20003(sandbox: Sandbox) -> None:
    async with AsyncTwilioHttpClient(timeout=5) as http_client:
        intruder = Client(ACCOUNT_SID, "not-the-token", http_client=http_client)
        intruder.api.base_url = sandbox.url
        with pytest.raises(TwilioRestException) as caught:
            await intruder.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert caught.value.status == 401 and caught.value.code == 20003
    assert sandbox.messages == [] and sandbox.requests[0].status == 401


async def test_bad_enum_is_400(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY, risk_check="sometimes")
    assert caught.value.status == 400 and caught.value.code == 21201


async def test_missing_to_is_21604(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to="", from_=SENDER, body=BODY)
    assert caught.value.status == 400 and caught.value.code == 21604


async def test_validity_period_out_of_range_is_400(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY, validity_period=36001)
    assert caught.value.status == 400


async def test_burst_of_429s_then_accepted(sandbox: Sandbox, client: Client) -> None:
    sandbox.faults.next_429s(2)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
        assert caught.value.status == 429 and caught.value.code == 20429
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert [r.status for r in sandbox.requests] == [429, 429, 201]
    assert len(sandbox.messages) == 1


async def test_rate_limit_per_account_answers_20429(sandbox: Sandbox, client: Client) -> None:
    sandbox.faults.rate_limit_per_second = 0.001
    sandbox.faults.rate_limit_burst = 3
    statuses = []
    for _ in range(5):
        try:
            await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
            statuses.append(201)
        except TwilioRestException as exc:
            assert exc.code == 20429
            statuses.append(exc.status)
    assert statuses == [201, 201, 201, 429, 429]


async def test_5xx_after_create_still_sends_the_message(sandbox: Sandbox, client: Client) -> None:
    sandbox.faults.error_5xx_ratio = 1.0
    sandbox.faults.error_5xx_after_create = True
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    assert caught.value.status == 500
    assert len(sandbox.messages) == 1


async def test_persona_reply_is_posted_signed_to_inbound_url(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(preset("confirms", ANNA, reply_after=30))
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    device = sandbox.device(ANNA)
    seen = await device.expect_sms(r"Reply 1", timeout=5)
    assert seen.body == BODY
    await sandbox.wait_idle()
    inbound = receiver.on("/webhooks/twilio/sms")
    assert len(inbound) == 1 and inbound[0].signature_valid
    params = inbound[0].params
    assert params["From"] == [ANNA] and params["To"] == [SENDER] and params["Body"] == ["1"]
    assert params["AccountSid"] == [ACCOUNT_SID] and params["NumMedia"] == ["0"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"][0])


async def test_expect_sms_times_out_with_a_clear_message(sandbox: Sandbox) -> None:
    with pytest.raises(AssertionError, match="no SMS"):
        await sandbox.device(ANNA).expect_sms("anything", timeout=0.2)


async def test_sender_queue_spaces_sends_at_the_long_code_rate() -> None:
    async with (
        Sandbox(ACCOUNT_SID, AUTH_TOKEN, clock=ScaledClock(scale=10), sender_segments_per_second=1.0) as sb,
        AsyncTwilioHttpClient(timeout=5) as http_client,
    ):
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
        client.api.base_url = sb.url
        for index in range(3):
            await client.messages.create_async(to=f"+3247000001{index}", from_=SENDER, body=BODY)
        await client.messages.create_async(to=ANNA, from_="+15005550007", body=BODY)
        await sb.wait_idle()
    sent = [m.sent_at for m in sb.messages if m.sent_at is not None]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(sent[:3])]
    assert len(sent) == 4 and all(0.9 < gap < 3.0 for gap in gaps), gaps
    third_wait = (sent[2] - sb.messages[2].created_at).total_seconds()
    other_sender_wait = (sent[3] - sb.messages[3].created_at).total_seconds()
    assert other_sender_wait < third_wait - 0.5, (other_sender_wait, third_wait)
