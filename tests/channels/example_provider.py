"""A minimal send-only provider, kept as the worked example of docs/providers.md.

It posts each SMS as JSON to an HTTP endpoint (an SMS-over-HTTP gateway of the kind many carriers
offer). This one file and a configuration entry are all it takes:

    delivery: {sms: [tests.channels.example_provider]}
    providers: {example-http-sms: {url: "http://127.0.0.1:9000/sms"}}
"""

from __future__ import annotations

import aiohttp

from notifier.channels.base import OutboundMessage, Outcome, SendResult
from notifier.channels.registry import BuildContext, ProviderSpec, register

NAME = "example-http-sms"


class HttpSms:
    name = NAME
    channels = frozenset({"sms"})
    two_way = False

    def __init__(self, url: str) -> None:
        self.url = url

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        body = {"id": msg.attempt_id, "to": msg.to, "from": sender, "text": msg.text}
        try:
            async with aiohttp.ClientSession() as http, http.post(self.url, json=body) as response:
                status = response.status
        except aiohttp.ClientConnectorError:
            return SendResult(Outcome.FAILED, error_code="connect", provider_down=True, not_sent=True)
        except (TimeoutError, aiohttp.ClientError):
            return SendResult(Outcome.UNKNOWN, error_code="transport", provider_down=True)
        if status < 300:
            return SendResult(Outcome.ACCEPTED)
        if status < 500:
            return SendResult(Outcome.FAILED, error_code=str(status))
        return SendResult(Outcome.UNKNOWN, error_code=str(status), provider_down=True)

    async def close(self) -> None:
        pass


def build(ctx: BuildContext) -> HttpSms:
    return HttpSms(str(ctx.config(NAME)["url"]))


register(ProviderSpec(NAME, frozenset({"sms"}), two_way=False, build=build))
