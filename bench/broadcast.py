"""Benchmark 1: broadcast to N contacts by SMS against the unthrottled sandbox (separate process).

Our figure runs the whole product in this process: activation (snapshot, planner, N outbox rows),
the dispatcher (claims, sender pool, twilio SDK), result recording, and the sandbox's signed status
callbacks (queued, sent, delivered) arriving over HTTP as planner steps. It is timed from the
`activate` call to the Nth provider request answered.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench import baseline
from bench.harness import (
    SandboxProcess,
    Stores,
    Tree,
    free_port,
    settings_for,
    start_runtime,
    webhook_port,
    write_config,
)
from bench.machine import rss_mb


async def wait_sent(runtime: Any, count: int, timeout: float) -> float:
    """Seconds until the dispatcher has had `count` provider answers."""
    start = time.perf_counter()
    dispatcher = runtime.engine.dispatcher
    while dispatcher.sent_count < count:
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"only {dispatcher.sent_count} of {count} sent in {timeout:.0f} s")
        await asyncio.sleep(0.01)
    return time.perf_counter() - start


async def engine_broadcast(stores: Stores, kind: str, count: int, workdir: Path) -> dict[str, float]:
    config = workdir / f"broadcast-{kind}-{count}"
    write_config(config, count, [Tree("bulk", range(count))])
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms").start()
    try:
        url = await stores.new(kind)
        started = time.perf_counter()
        runtime = await start_runtime(settings_for(url, config, sandbox, port))
        startup = time.perf_counter() - started
        try:
            t0 = time.perf_counter()
            await runtime.engine.activate("bulk", fields={"nature": "Benchmark"}, started_by="bench")
            planned = time.perf_counter() - t0
            await wait_sent(runtime, count, timeout=max(120.0, count / 50))
            elapsed = time.perf_counter() - t0
            rss = rss_mb()
            times = sorted(r[0] for r in await sandbox.requests() if r[1] == "Messages.json")
            await asyncio.sleep(1.0)  # let the last callbacks land before the store closes
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    wire = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "count": count,
        "rate": count / elapsed,
        "wire_rate": wire,
        "seconds": elapsed,
        "activate_s": planned,
        "startup_s": startup,
        "rss_mb": rss,
    }


async def baselines(count: int, concurrency: int) -> dict[str, float]:
    sandbox = SandboxProcess().start()
    try:
        raw = await baseline.raw_aiohttp(sandbox, count, concurrency)
        await sandbox.reset()
        sdk = await baseline.twilio_sdk(sandbox, count, concurrency)
    finally:
        sandbox.stop()
    return {"raw": raw, "sdk": sdk}
