"""Capacity sweep (issue 19): alert -> first provider request over HTTP at rising alert rates
(full run: 10, 25, 50, 100, 200 and 400 alerts/s), each rate on a fresh store and runtime.

Each alert starts its own activation of a one-person tree (as in benchmark 3); the client is open
loop, so past the daemon's capacity the alerts queue and the latency grows with the run. An alert
whose SMS has not reached the sandbox `settle_s` after the last one was sent counts as infinitely
late (p99 is then "not all sent"), so a saturated rate can never look good. The knee is the highest
rate with p99 < 50 ms and every alert's SMS sent. Rates above one where p99 passed `STOP_MS` are not
run: they would only queue longer and cost the run's time budget.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import SandboxProcess, Stores, Tree, free_port, settings_for, start_runtime, write_config
from bench.latency import ROUTE, _open_loop, _sms_arrivals, alert
from bench.machine import percentile
from notifier.api.tokens import Role, TokenStore

GOAL_P99_MS = 50.0
STOP_MS = 1000.0


async def capacity(
    stores: Stores,
    kind: str,
    rates: tuple[float, ...],
    seconds: float,
    least: int,
    settle_s: float,
    workdir: Path,
) -> dict[str, Any]:
    """{points: [{rate, alerts, sms, p50_ms, p99_ms, max_ms}], knee: alerts/s or 0, stopped_after}."""
    config = workdir / f"capacity-{kind}"
    write_config(config, 1, [Tree("oncall", range(1))], routes=ROUTE)
    sandbox = SandboxProcess().start()
    points: list[dict[str, float]] = []
    try:
        for rate in rates:
            alerts = max(least, round(rate * seconds))
            await sandbox.reset()
            point = await _at_rate(stores, kind, rate, alerts, settle_s, config, sandbox)
            print(f"   capacity [{kind}] {rate:g}/s: {point}", flush=True)
            points.append(point)
            if not point["p99_ms"] < STOP_MS:
                break
    finally:
        sandbox.stop()
    return {"points": points, "knee": knee(points), "rates": list(rates)}


def knee(points: list[dict[str, float]]) -> float:
    """The highest rate with p99 < 50 ms and every alert's SMS sent; 0 when no rate met it."""
    passing = [p["rate"] for p in points if p["p99_ms"] < GOAL_P99_MS and p["sms"] >= p["alerts"]]
    return max(passing, default=0.0)


async def _at_rate(
    stores: Stores,
    kind: str,
    rate: float,
    alerts: int,
    settle_s: float,
    config: Path,
    sandbox: SandboxProcess,
) -> dict[str, float]:
    port = free_port()
    url = await stores.new(kind)
    runtime = await start_runtime(settings_for(url, config, sandbox, port))
    assert runtime.db is not None
    _, token = await TokenStore(runtime.db).create("bench", Role.INTEGRATION)
    starts: list[float] = []
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:

            async def post(i: int) -> None:
                starts.append(time.time())
                async with session.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=alert(i)) as r:
                    await r.read()

            await _open_loop(alerts, rate, post)
        end = time.monotonic() + settle_s
        while (await sandbox.count())["requests"] < alerts and time.monotonic() < end:
            await asyncio.sleep(0.05)
        arrivals = await _sms_arrivals(sandbox)
    finally:
        await runtime.stop(timeout=10)
    # one SMS per alert to the same person: the k-th arrival answers the k-th alert; the missing
    # ones are infinitely late
    late = [(a - s) * 1000 for a, s in zip(sorted(arrivals), sorted(starts), strict=False)]
    late += [math.inf] * max(0, alerts - len(arrivals))
    return {
        "rate": rate,
        "alerts": float(alerts),
        "sms": float(len(arrivals)),
        "p50_ms": percentile(late, 50),
        "p99_ms": percentile(late, 99),
        "max_ms": max(late, default=0.0),
    }
