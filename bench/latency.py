"""Benchmark 3: an alert accepted over HTTP -> the first provider request, at a steady 50 alerts/s.

Each alert names the TAXUD service SEED with its own dedup key, so each starts its own activation of
a one-person tree. Latency is the sandbox's arrival time of the SMS request minus the moment the
client started the POST (same machine, same wall clock). MQTT is measured when
`notifier.intake.mqtt` exists; otherwise it is reported as pending.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import SandboxProcess, Stores, Tree, free_port, settings_for, start_runtime, write_config
from bench.machine import percentile
from notifier.api.tokens import Role, TokenStore

ROUTE = "  - {id: seed-down, match: {services: [SEED]}, calltree: oncall}"


def mqtt_available() -> bool:
    return importlib.util.find_spec("notifier.intake.mqtt") is not None


async def http_latency(
    stores: Stores, kind: str, alerts: int, per_second: float, workdir: Path
) -> dict[str, float]:
    config = workdir / f"latency-{kind}"
    write_config(config, 1, [Tree("oncall", range(1))], routes=ROUTE)
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{port}/webhooks/twilio/sms").start()
    try:
        url = await stores.new(kind)
        runtime = await start_runtime(settings_for(url, config, sandbox, port))
        assert runtime.db is not None
        _, token = await TokenStore(runtime.db).create("bench", Role.INTEGRATION)
        sent: dict[str, float] = {}
        statuses: list[int] = []
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:

                async def post(i: int) -> None:
                    body = {
                        "service": "SEED",
                        "severity": "critical",
                        "summary": f"SEED down {i}",
                        "source": "bench",
                        "dedup_key": f"bench-{i}",
                    }
                    sent[f"bench-{i}"] = time.time()
                    async with session.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=body) as r:
                        statuses.append(r.status)
                        await r.read()

                tasks: list[asyncio.Task[Any]] = []
                start = time.perf_counter()
                for i in range(alerts):  # open loop: a steady rate whatever the answers take
                    await asyncio.sleep(max(0.0, start + i / per_second - time.perf_counter()))
                    tasks.append(asyncio.create_task(post(i)))
                await asyncio.gather(*tasks)
            await sandbox.wait_requests(alerts, timeout=60)
            arrivals = sorted(r[0] for r in await sandbox.requests() if r[1] == "Messages.json")
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    # one SMS per alert, each to the same person: pair the k-th arrival with the k-th POST
    starts = sorted(sent.values())
    latencies = [(a - s) * 1000 for a, s in zip(arrivals, starts, strict=False)]
    return {
        "alerts": float(alerts),
        "accepted": float(sum(1 for s in statuses if s == 202)),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=0.0),
    }
