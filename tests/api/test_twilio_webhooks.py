"""Twilio webhook signatures: signed requests reach the engine, anything else is 403 and does not.

Signatures are made with the twilio SDK's own `RequestValidator`, so our check is tested against
Twilio's implementation rather than against itself.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from notifier.api.twilio_signature import compute_signature

from .conftest import ALTERNATE_TOKEN, AUTH_TOKEN, PUBLIC_BASE
from .memory_engine import MemoryEngine

FORM = "application/x-www-form-urlencoded"
INBOUND = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "SmsSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "ACsandbox00000000000000000000000000",
    "From": "+32471234556",
    "To": "+15005550006",
    "Body": "1",
    "NumMedia": "0",
}


def signed(
    path: str, params: dict[str, str], token: str = AUTH_TOKEN, base: str = PUBLIC_BASE
) -> dict[str, str]:
    return {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, params),
        "Content-Type": FORM,
    }


async def post(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await client.post(path, content=urlencode(params), headers=headers)


def test_our_signature_equals_twilios_for_the_documented_example() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"  # the Twilio docs example
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert compute_signature("12345", url, list(params.items())) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


async def test_signed_inbound_sms_reaches_the_engine_and_gets_twiml(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    response = await post(client, "/webhooks/twilio/sms", INBOUND, signed("/webhooks/twilio/sms", INBOUND))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith(
        "<Response><Message>Confirmed &lt;ref K1Q&gt; &amp; thanks</Message></Response>"
    )
    assert engine.called("inbound_sms") == [("+32471234556", "+15005550006", "1", INBOUND["MessageSid"])]


async def test_no_reply_text_gives_empty_twiml(client: httpx.AsyncClient, engine: MemoryEngine) -> None:
    params = {**INBOUND, "Body": "hello"}
    response = await post(client, "/webhooks/twilio/sms", params, signed("/webhooks/twilio/sms", params))
    assert response.status_code == 200
    assert response.text.endswith("<Response></Response>")


async def test_alternate_token_is_accepted_during_rotation(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    headers = signed("/webhooks/twilio/sms", INBOUND, token=ALTERNATE_TOKEN)
    assert (await post(client, "/webhooks/twilio/sms", INBOUND, headers)).status_code == 200
    assert len(engine.called("inbound_sms")) == 1


async def test_default_port_in_the_signed_url_is_accepted(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    headers = signed("/webhooks/twilio/sms", INBOUND, base="https://notify.example.org:443")
    assert (await post(client, "/webhooks/twilio/sms", INBOUND, headers)).status_code == 200


@pytest.mark.parametrize(
    "case",
    ["missing", "forged-token", "other-url", "internal-url", "tampered-body", "garbage"],
)
async def test_bad_signatures_are_403_and_never_reach_the_engine(
    client: httpx.AsyncClient, engine: MemoryEngine, case: str
) -> None:
    path = "/webhooks/twilio/sms"
    params = dict(INBOUND)
    headers = {
        "missing": {"Content-Type": FORM},
        "forged-token": signed(path, params, token="not-our-auth-token"),
        "other-url": signed(path, params, base="https://attacker.example.org"),
        "internal-url": signed(path, params, base="http://testserver"),
        "tampered-body": signed(path, params),
        "garbage": {"Content-Type": FORM, "X-Twilio-Signature": "not base64 at all"},
    }[case]
    if case == "tampered-body":
        params["Body"] = "2"
    response = await post(client, path, params, headers)
    assert response.status_code == 403
    assert engine.calls == []


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/webhooks/twilio/status", "delivery_report"),
        ("/webhooks/twilio/voice", "call_script"),
        ("/webhooks/twilio/gather", "call_answer"),
        ("/webhooks/twilio/call-status", "delivery_report"),
    ],
)
async def test_callbacks_pass_the_signed_token(
    client: httpx.AsyncClient, engine: MemoryEngine, path: str, method: str
) -> None:
    params = {
        "CallSid": "CA0123456789abcdef0123456789abcdef",
        "CallStatus": "in-progress",
        "Digits": "1",
        "MessageStatus": "delivered",
    }
    url = f"{path}?t=att-1-p-ana.cb"
    response = await post(client, url, params, signed(url, params))
    assert response.status_code == 200
    assert response.text.lstrip().startswith(("<?xml", "<Response"))
    (args,) = engine.called(method)
    assert args[0] == "att-1-p-ana.cb"
    if method == "call_answer":
        assert args[1:] == ("confirm", "1", "CA0123456789abcdef0123456789abcdef")
    # The token is part of the signed URL: another attempt's token with the same signature fails.
    swapped = f"{path}?t=att-9-p-ben.cb"
    assert (await post(client, swapped, params, signed(url, params))).status_code == 403
    assert len(engine.called(method)) == 1


async def test_callback_without_token_is_refused_after_the_signature_check(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    params = {"MessageStatus": "delivered"}
    response = await post(
        client, "/webhooks/twilio/status", params, signed("/webhooks/twilio/status", params)
    )
    assert response.status_code == 400
    assert engine.calls == []


async def test_webhook_edges_answer_like_the_api(client: httpx.AsyncClient, engine: MemoryEngine) -> None:
    """The webhooks are served ahead of FastAPI's router (`TwilioWebhooks`): the same answers anyway."""
    assert (await client.get("/webhooks/twilio/status")).status_code == 405
    params = {"MessageStatus": "delivered"}
    long_url = "/webhooks/twilio/status?t=" + "x" * 201
    assert (await post(client, long_url, params, signed(long_url, params))).status_code == 422
    engine.store_down = True
    url = "/webhooks/twilio/status?t=a1.a2"
    down = await post(client, url, params, signed(url, params))
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert "/webhooks/twilio/status" not in (await client.get("/openapi.json")).text
