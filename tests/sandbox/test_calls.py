"""Outbound calls through the real twilio SDK: progress callbacks, AMD, TwiML, Gather digits."""

from __future__ import annotations

import re

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from notifier.sandbox import Persona, Sandbox, preset
from notifier.sandbox.voice import APPLICATION_ERROR, MAX_HOPS

from .conftest import SENDER, Receiver

MARC = "+32470000002"
EVENTS = ["initiated", "ringing", "answered", "completed"]


async def place(client: Client, receiver: Receiver, to: str = MARC, **extra: object) -> str:
    call = await client.calls.create_async(
        to=to,
        from_=SENDER,
        url=f"{receiver.url}/voice/start",
        status_callback=f"{receiver.url}/status/call",
        status_callback_event=EVENTS,
        machine_detection="Enable",
        **extra,
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid) and call.status == "queued"
    return str(call.sid)


async def test_confirming_person_hears_the_message_and_presses_1(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(preset("confirms", MARC))
    sid = await place(client, receiver)
    call = await sandbox.device(MARC).expect_call(r"TARIC", timeout=5)
    assert call.sid == sid and call.status == "completed" and call.answered_by == "human"
    assert call.digits_sent == ["1"]
    assert call.said[-1] == "Thank you. Your answer is recorded."

    statuses = [h.params["CallStatus"][0] for h in receiver.on("/status/call")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    (fetch,) = receiver.on("/voice/start")
    assert fetch.params["CallSid"] == [sid] and fetch.params["CallStatus"] == ["in-progress"]
    assert fetch.params["AnsweredBy"] == ["human"] and fetch.params["Direction"] == ["outbound-api"]
    (gather,) = receiver.on("/voice/gather")
    assert gather.params["Digits"] == ["1"] and gather.params["CallSid"] == [sid]
    assert all(hit.signature_valid for hit in receiver.hits)

    fetched = await client.calls(sid).fetch_async()
    assert fetched.status == "completed" and fetched.answered_by == "human"


async def test_gather_action_query_string_is_part_of_the_signed_url(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(preset("declines", MARC))
    await place(client, receiver)
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.digits_sent == ["2"]
    assert call.callbacks[-2].url.endswith("/voice/gather?ref=K7Q")
    assert receiver.on("/voice/gather")[0].signature_valid


async def test_machine_hears_the_message_but_presses_nothing(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(Persona(MARC, voice="machine", digits="1"))
    await place(client, receiver)
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.answered_by == "machine_start"
    assert call.digits_sent == [] and receiver.on("/voice/gather") == []
    assert "TARIC" in call.transcript and call.said[-1] == "We did not receive your answer."


@pytest.mark.parametrize(
    ("persona", "final", "events"),
    [
        ("busy", "busy", ["initiated", "busy"]),
        ("never_answers", "no-answer", ["initiated", "ringing", "no-answer"]),
    ],
)
async def test_unreachable_callee_final_status(
    sandbox: Sandbox, client: Client, receiver: Receiver, persona: str, final: str, events: list[str]
) -> None:
    sandbox.personas.add(preset(persona, MARC))
    await place(client, receiver, timeout=20)
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.status == final and call.said == []
    assert [h.params["CallStatus"][0] for h in receiver.on("/status/call")] == events
    assert receiver.on("/voice/start") == []


async def test_unknown_number_is_not_answered(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    await place(client, receiver, to="+32470999999", timeout=15)
    call = await sandbox.device("+32470999999").expect_call(timeout=5)
    assert call.status == "no-answer"


async def test_default_events_post_only_completed(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(preset("confirms", MARC))
    await client.calls.create_async(
        to=MARC,
        from_=SENDER,
        url=f"{receiver.url}/voice/start",
        status_callback=f"{receiver.url}/status/call",
    )
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.answered_by is None
    (only,) = receiver.on("/status/call")
    assert only.params["CallStatus"] == ["completed"] and "AnsweredBy" not in only.params


async def test_inline_twiml_then_failed_fetch_is_an_application_error(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.personas.add(preset("confirms", MARC))
    twiml = f"<Response><Say>EOS outage</Say><Redirect>{sandbox.url}/nowhere</Redirect></Response>"
    await client.calls.create_async(to=MARC, from_=SENDER, twiml=twiml)
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.said == ["EOS outage", APPLICATION_ERROR]


async def test_redirect_loop_is_bounded(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    sandbox.personas.add(preset("confirms", MARC))
    await client.calls.create_async(to=MARC, from_=SENDER, url=f"{receiver.url}/voice/loop")
    call = await sandbox.device(MARC).expect_call(timeout=5)
    assert call.said == ["SEED"] * MAX_HOPS and call.status == "completed"


async def test_call_without_url_or_twiml_is_refused(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.calls.create_async(to=MARC, from_=SENDER)
    assert caught.value.status == 400 and caught.value.code == 21205


async def test_bad_status_callback_event_is_refused(client: Client, receiver: Receiver) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.calls.create_async(
            to=MARC, from_=SENDER, url=f"{receiver.url}/voice/start", status_callback_event=["picked-up"]
        )
    assert caught.value.status == 400


async def test_invalid_number_call_is_21211(sandbox: Sandbox, client: Client, receiver: Receiver) -> None:
    sandbox.personas.add(preset("invalid_number", MARC))
    with pytest.raises(TwilioRestException) as caught:
        await place(client, receiver)
    assert caught.value.code == 21211
