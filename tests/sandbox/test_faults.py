"""Scripted provider faults seen through the real SDK: concurrency 429s, 5xx before create, slow answers."""

from __future__ import annotations

import asyncio

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from notifier.sandbox import Sandbox

from .conftest import SENDER, Receiver

ANNA = "+32470000001"


async def outcome(client: Client) -> int:
    try:
        await client.messages.create_async(to=ANNA, from_=SENDER, body="EOS down")
    except TwilioRestException as exc:
        return int(exc.status)
    return 201


async def test_concurrency_limit_answers_429_while_requests_are_in_flight(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.faults.max_concurrency = 1
    sandbox.faults.slow_seconds = 1.5
    results = await asyncio.gather(*(outcome(client) for _ in range(3)))
    assert sorted(results) == [201, 429, 429]
    assert await outcome(client) == 201


async def test_5xx_before_create_sends_nothing(sandbox: Sandbox, client: Client) -> None:
    sandbox.faults.error_5xx_ratio = 1.0
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=ANNA, from_=SENDER, body="EOS down")
    assert caught.value.status == 500 and caught.value.code == 20500
    assert sandbox.messages == []
    sandbox.faults.error_5xx_ratio = 0.0
    assert await outcome(client) == 201


async def test_5xx_ratio_is_reproducible_with_a_seed(sandbox: Sandbox, client: Client) -> None:
    from notifier.sandbox import Faults

    sandbox.state.faults = sandbox.state.limiter.faults = Faults(error_5xx_ratio=0.5, seed=7)
    first = [await outcome(client) for _ in range(10)]
    sandbox.state.faults = sandbox.state.limiter.faults = Faults(error_5xx_ratio=0.5, seed=7)
    second = [await outcome(client) for _ in range(10)]
    assert first == second and {201, 500} == set(first)


async def test_slow_response_is_slow_in_wall_time(sandbox: Sandbox, client: Client) -> None:
    sandbox.faults.slow_seconds = 1.0
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.messages.create_async(to=ANNA, from_=SENDER, body="EOS down")


async def test_sdk_constructor_timeout_is_not_applied_to_requests(sandbox: Sandbox) -> None:
    """Pins a twilio 9.13 behaviour the channel must work around: `AsyncTwilioHttpClient(timeout=...)`
    is stored but `request()` only uses a per-call timeout, so the constructor value bounds nothing.
    If an upgrade fixes this, this test fails and the workaround can go."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    from .conftest import ACCOUNT_SID, AUTH_TOKEN

    sandbox.faults.slow_seconds = 0.6
    async with AsyncTwilioHttpClient(timeout=0.1) as http_client:
        impatient = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
        impatient.api.base_url = sandbox.url
        message = await impatient.messages.create_async(to=ANNA, from_=SENDER, body="EOS down")
    assert message.status == "queued"


async def test_status_callback_method_get_is_signed_over_the_query(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    await client.calls.create_async(
        to=ANNA,
        from_=SENDER,
        url=f"{receiver.url}/voice/start",
        timeout=5,
        status_callback=f"{receiver.url}/status/call?tree=eos",
        status_callback_method="GET",
    )
    await sandbox.wait_idle()
    (hit,) = receiver.on("/status/call")
    assert hit.method == "GET" and hit.signature_valid
