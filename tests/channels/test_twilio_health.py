"""Twilio's health check (fetch of our own account) against the sandbox, and its "Twilio is down" switch."""

from __future__ import annotations

import httpx

from notifier.channels.twilio import TwilioProvider
from notifier.sandbox import Sandbox

ACCOUNT_SID, AUTH_TOKEN = "AC" + "5eed0000" * 4, "9f86d081884c7d659a2feaa0c55ad015"


async def test_health_check_follows_the_outage_switch_and_the_credentials() -> None:
    async with Sandbox(ACCOUNT_SID, AUTH_TOKEN) as sandbox:
        good = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:9", base_url=sandbox.url, timeout=2)
        wrong = TwilioProvider(
            ACCOUNT_SID, "not-the-token", "http://127.0.0.1:9", base_url=sandbox.url, timeout=2
        )
        try:
            assert await good.healthy()
            assert not await wrong.healthy()
            async with httpx.AsyncClient(base_url=sandbox.url) as client:
                down = await client.post("/sandbox/outage", json={"twilio": True})
                assert down.json() == {"twilio_down": True}
                assert not await good.healthy()
                assert (await client.post("/sandbox/outage", json={"twilio": "yes"})).status_code == 200
                assert (await client.post("/sandbox/outage", json={})).status_code == 400
                await client.post("/sandbox/outage", json={"twilio": False})
            assert await good.healthy()
        finally:
            await good.close()
            await wrong.close()
