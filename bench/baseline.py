"""The yardstick: a bare asyncio client sending the same SMS requests to the same sandbox process
with the same concurrency, and no database. Our broadcast rate is reported as a ratio to it.

Two clients are measured: raw aiohttp (the transport's limit) and the twilio SDK's
`AsyncTwilioHttpClient` (what the product uses; its per-request cost is part of the product's).
A local receiver answers the sandbox's status callbacks, so the sandbox does the same work as when
it talks to the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bench.harness import ACCOUNT_SID, AUTH_TOKEN, SENDERS, SandboxProcess, free_port, number

BODY = (
    "INCIDENT: Benchmark. Service: SEED. Convene: crisis room. "
    "Reply 1 to confirm, 2 if you cannot respond (ref K7Q)"
)


async def receiver() -> tuple[web.AppRunner, str]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="<Response></Response>", content_type="application/xml")

    app = web.Application()
    app.router.add_post("/status", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/status"


async def _fan_out(count: int, concurrency: int, send: Callable[[int], Awaitable[None]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await send(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - start


async def raw_aiohttp(sandbox: SandboxProcess, count: int, concurrency: int) -> float:
    """Messages per second with plain aiohttp POSTs."""
    runner, callback = await receiver()
    url = f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)
    try:
        async with aiohttp.ClientSession(auth=auth) as session:

            async def send(i: int) -> None:
                form = {
                    "To": number(i),
                    "From": SENDERS[i % len(SENDERS)],
                    "Body": BODY,
                    "StatusCallback": f"{callback}?t=a.{i}",
                }
                async with session.post(url, data=form) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"baseline request refused: {response.status}")

            elapsed = await _fan_out(count, concurrency, send)
    finally:
        await runner.cleanup()
    return count / elapsed


async def twilio_sdk(sandbox: SandboxProcess, count: int, concurrency: int) -> float:
    """Messages per second with the twilio SDK's asyncio client (no retries, as the product)."""
    runner, callback = await receiver()
    http = AsyncTwilioHttpClient(logger=logging.getLogger("bench.twilio"))
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.api.base_url = sandbox.url
    try:

        async def send(i: int) -> None:
            await client.messages.create_async(
                to=number(i),
                from_=SENDERS[i % len(SENDERS)],
                body=BODY,
                status_callback=f"{callback}?t=a.{i}",
            )

        elapsed = await _fan_out(count, concurrency, send)
    finally:
        await http.close()
        await runner.cleanup()
    return count / elapsed
