"""Fixtures: a running sandbox, a real twilio SDK client pointed at it, and a webhook receiver
standing in for the daemon that checks every signature with twilio's own `RequestValidator`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from notifier.clock import ScaledClock
from notifier.sandbox import Sandbox

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "9f86d081884c7d659a2feaa0c55ad015"
SENDER = "+15005550006"

VOICE_START = """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Gather numDigits="1" action="gather?ref=K7Q" method="POST" timeout="5">
    <Say>Major incident: TARIC tariff service unavailable since 09:00. Press 1 to confirm, 2 to decline.</Say>
  </Gather>
  <Say>We did not receive your answer.</Say>
  <Hangup/>
</Response>"""
VOICE_THANKS = "<Response><Say>Thank you. Your answer is recorded.</Say><Hangup/></Response>"
ACK_PAGE = """<html><body><p>Acknowledge activation K7Q (EOS)</p>
<form method="post" action="/ack/tok123/confirm"><input type="hidden" name="csrf" value="c5rf">
<button type="submit" name="answer" value="confirm">Confirm</button>
<button type="submit" name="answer" value="decline">Decline</button></form></body></html>"""


@dataclass
class Hit:
    path: str
    params: dict[str, list[str]]
    signature_valid: bool
    method: str


@dataclass
class Receiver:
    """The daemon's side of the webhooks, recording each hit and whether its signature verified."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)

    def on(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recorder = Receiver()
    validator = RequestValidator(AUTH_TOKEN)

    async def record(request: web.Request) -> Hit:
        form = await request.post()
        params = {key: form.getall(key) for key in set(form.keys())}
        signature = request.headers.get("X-Twilio-Signature", "")
        flat = form if request.method == "POST" else {}
        valid = validator.validate(str(request.url), flat, signature)
        hit = Hit(request.path, {k: [str(v) for v in vs] for k, vs in params.items()}, valid, request.method)
        recorder.hits.append(hit)
        return hit

    async def plain(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="<Response></Response>", content_type="text/xml")

    async def voice_start(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text=VOICE_START, content_type="text/xml")

    async def voice_gather(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text=VOICE_THANKS, content_type="text/xml")

    async def voice_loop(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="<Response><Say>SEED</Say><Redirect>loop</Redirect></Response>")

    async def ack_page(request: web.Request) -> web.Response:
        recorder.hits.append(Hit(request.path, {}, True, "GET"))
        return web.Response(text=ACK_PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/status/{kind}", plain)
    app.router.add_post("/webhooks/twilio/sms", plain)
    app.router.add_post("/voice/start", voice_start)
    app.router.add_post("/voice/gather", voice_gather)
    app.router.add_post("/voice/loop", voice_loop)
    app.router.add_get("/ack/{token}", ack_page)
    app.router.add_post("/ack/{token}/confirm", plain)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recorder.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield recorder
    await runner.cleanup()


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Sandbox]:
    clock = ScaledClock(scale=100)
    async with Sandbox(
        ACCOUNT_SID, AUTH_TOKEN, inbound_sms_url=f"{receiver.url}/webhooks/twilio/sms", clock=clock
    ) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    http_client = AsyncTwilioHttpClient(timeout=5)
    twilio = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
    twilio.api.base_url = sandbox.url
    yield twilio
    await http_client.close()
