"""Benchmark 5: inbound SMS replies with signature checks -> acknowledgements recorded per second.

M people each get one SMS from their own one-person activation; then M signed "1" replies are posted
to /webhooks/twilio/sms with the same concurrency as the dispatcher. Each is checked against
X-Twilio-Signature, matched to its open activation, stored as a response and applied as a step.

Baseline of the same run (`bare_per_s`): the same signed posts, same client and concurrency, to a bare
aiohttp receiver that reads each body and answers the empty TwiML (no signature check, no store):
what the client and HTTP cost on this machine, the ceiling of any daemon.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bench import baseline
from bench.harness import (
    AUTH_TOKEN,
    SENDERS,
    SandboxProcess,
    Stores,
    Tree,
    free_port,
    number,
    settings_for,
    start_runtime,
    webhook_port,
    write_config,
)
from notifier.sandbox.signing import SIGNATURE_HEADER, sign
from notifier.store.engine_tables import responses


async def acks_per_second(
    stores: Stores, kind: str, people: int, concurrency: int, workdir: Path
) -> dict[str, float]:
    config = workdir / f"inbound-{kind}-{people}"
    write_config(config, people, [Tree(f"t{i}", range(i, i + 1)) for i in range(people)])
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=None).start()
    webhook = f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms"
    try:
        url = await stores.new(kind)
        runtime = await start_runtime(settings_for(url, config, sandbox, port))
        engine = runtime.engine
        assert engine is not None and runtime.db is not None
        try:
            gate = asyncio.Semaphore(concurrency)

            async def start(i: int) -> None:
                async with gate:
                    await engine.activate(f"t{i}", started_by="bench")

            # the set-up, not measured: the activations side by side, as alerts arrive
            await asyncio.gather(*(start(i) for i in range(people)))
            await engine.wait_idle(120)
            statuses: list[int] = []
            async with aiohttp.ClientSession() as session:

                async def reply(i: int) -> None:
                    params = reply_params(i)
                    headers = {SIGNATURE_HEADER: sign(AUTH_TOKEN, webhook, params)}
                    async with gate, session.post(webhook, data=params, headers=headers) as r:
                        statuses.append(r.status)
                        await r.read()

                start = time.perf_counter()
                await asyncio.gather(*(reply(i) for i in range(people)))
                elapsed = time.perf_counter() - start
            async with runtime.db.connect() as conn:
                confirmed = (
                    await conn.execute(select(func.count()).where(responses.c.action == "confirm"))
                ).scalar_one()
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    bare = await _bare(people, concurrency)  # the daemon stopped: the machine is the client's alone
    return {
        "replies": float(people),
        "ok": float(sum(1 for s in statuses if s == 200)),
        "recorded": float(confirmed),
        "acks_per_s": confirmed / elapsed,
        "seconds": elapsed,
        "bare_per_s": bare,
    }


def reply_params(i: int) -> dict[str, str]:
    return {
        "MessageSid": f"SM{i:032d}",
        "AccountSid": "AC" + "b" * 32,
        "From": number(i),
        "To": SENDERS[0],
        "Body": "1",
        "NumMedia": "0",
    }


async def _bare(people: int, concurrency: int) -> float:
    """Posts per second of the same signed replies to a receiver that only answers."""
    runner, url = await baseline.receiver()
    gate = asyncio.Semaphore(concurrency)
    try:
        async with aiohttp.ClientSession() as session:

            async def post(i: int) -> None:
                form = reply_params(i)
                headers = {SIGNATURE_HEADER: sign(AUTH_TOKEN, url, form)}
                async with gate, session.post(url, data=form, headers=headers) as r:
                    await r.read()

            start = time.perf_counter()
            await asyncio.gather(*(post(i) for i in range(people)))
            return people / (time.perf_counter() - start)
    finally:
        await runner.cleanup()
