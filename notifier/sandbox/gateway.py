"""An on-premises SMS gateway stand-in (Kannel's smsbox `sendsms` interface) for the demo.

`GET /cgi-bin/sendsms` takes what `notifier.channels.kannel` sends (personas answer it as they
answer Twilio's); its delivery
reports are fetched from the `dlr-url` with Kannel's `%d` filled in (8 accepted by the SMSC, then
1 delivered), and a persona's reply is forwarded to the daemon's Kannel get-url
(`/webhooks/kannel/sms?k=<secret>&from=..&to=..&text=..&id=..`). Messages are kept in
`Gateway.messages`, not among Twilio's. The real gateway is exercised by
tests/channels/test_kannel.py; this one only lets `notifier demo --twilio-down` show failover
without installing Kannel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from notifier.sandbox.core import SandboxState
from notifier.sandbox.messaging import DELIVERY_DELAY, SEND_DELAY
from notifier.sandbox.records import SentMessage, new_sid

USERNAME, PASSWORD, SECRET = "sandbox", "sandbox-gateway", "sandbox-gateway-secret"
GATEWAY_KEY = web.AppKey("sandbox_gateway", object)


@dataclass
class Gateway:
    state: SandboxState
    mo_url: str | None = None  # the daemon's /webhooks/kannel/sms
    #: what went out through the gateway (apart from Twilio's messages: its list API never shows them)
    messages: list[SentMessage] = field(default_factory=list)

    async def sendsms(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("username") != USERNAME or q.get("password") != PASSWORD:
            return web.Response(status=403, text="Authorization failed for sendsms")
        to, text = q.get("to", ""), q.get("text", "")
        if not to or not text:
            return web.Response(status=400, text="Missing receiver number or text")
        persona = self.state.personas.for_number(to)
        if persona.invalid:
            return web.Response(status=403, text="Not routable. Do not try again.")
        now = self.state.clock.now()
        message = SentMessage(
            sid=new_sid("KN"),
            account_sid="gateway",
            to=to,
            from_=q.get("from", ""),
            body=text,
            status="queued",
            created_at=now,
            updated_at=now,
            status_callback=None,
            messaging_service_sid=None,
            validity_period=None,
        )
        self.messages.append(message)
        self.state.spawn(
            lambda: self._deliver(message, q.get("dlr-url"), persona.sms_reply, persona.reply_after)
        )
        await self.state.changed()
        return web.Response(status=202, text="0: Accepted for delivery")

    async def _get(self, url: str) -> None:
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                await response.read()
        except aiohttp.ClientError:
            pass

    async def _deliver(
        self, message: SentMessage, dlr_url: str | None, reply: str | None, after: float
    ) -> None:
        await self.state.clock.sleep(SEND_DELAY)
        message.status, message.sent_at = "sent", self.state.clock.now()
        if dlr_url:
            await self._get(dlr_url.replace("%d", "8").replace("%A", "ACK").replace("%F", "sandbox"))
        await self.state.clock.sleep(DELIVERY_DELAY)
        message.status = "delivered"
        await self.state.changed()
        if dlr_url:
            await self._get(dlr_url.replace("%d", "1").replace("%A", "").replace("%F", "sandbox"))
        if reply is not None and self.mo_url:
            await self.state.clock.sleep(after)
            query = {"k": SECRET, "from": message.to, "to": message.from_, "text": reply, "id": new_sid("MO")}
            await self._get(f"{self.mo_url}?{urlencode(query)}")


def install(app: web.Application, state: SandboxState, mo_url: str | None) -> Gateway:
    gateway = Gateway(state, mo_url)
    app[GATEWAY_KEY] = gateway
    app.router.add_get("/cgi-bin/sendsms", gateway.sendsms)
    return gateway
