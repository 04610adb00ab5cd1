"""Benchmark 2: sender-rate adherence. A pool of sender numbers with a configured rate per sender;
the sandbox's arrival times tell the achieved rate, its deviation from the configured one, and the
idle gaps (a gap is a pause longer than three intervals of the configured rate)."""

from __future__ import annotations

import itertools
from pathlib import Path

from bench.broadcast import wait_sent
from bench.harness import (
    SENDERS,
    SandboxProcess,
    Stores,
    Tree,
    free_port,
    settings_for,
    start_runtime,
    webhook_port,
    write_config,
)


async def adherence(stores: Stores, kind: str, count: int, rate: float, workdir: Path) -> dict[str, float]:
    senders = SENDERS[:10]
    config = workdir / f"rate-{kind}-{count}-{rate:g}"
    write_config(config, count, [Tree("bulk", range(count))])
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms").start()
    try:
        url = await stores.new(kind)
        settings = settings_for(url, config, sandbox, port)
        settings.twilio.from_numbers = senders
        settings.twilio.rate_per_sender = rate / len(senders)
        runtime = await start_runtime(settings)
        try:
            await runtime.engine.activate("bulk", fields={"nature": "Rate benchmark"}, started_by="bench")
            await wait_sent(runtime, count, timeout=count / rate * 3 + 120)
            times = sorted(r[0] for r in await sandbox.requests() if r[1] == "Messages.json")
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    # the first second is the pool's burst allowance; judge the steady state after it
    steady = [t for t in times if t >= times[0] + 1.0]
    achieved = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    per_second: dict[int, int] = {}
    for t in steady:
        per_second[int(t - steady[0])] = per_second.get(int(t - steady[0]), 0) + 1
    full_seconds = list(per_second.values())[:-1] or [0]
    return {
        "configured": rate,
        "achieved": achieved,
        "deviation_pct": (achieved - rate) / rate * 100,
        "worst_second": min(full_seconds),
        "best_second": max(full_seconds),
        "max_gap_ms": max(gaps, default=0.0) * 1000,
        "idle_gaps": float(sum(1 for g in gaps if g > 3 / rate)),
    }
