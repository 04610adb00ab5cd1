"""Benchmark 4: escalation deadlines firing on time with 100,000 pending.

Real activations (one-person trees) carry the deadlines; 100,000 deadline rows are written directly
(far in the future but for a sample due over the next seconds at a steady rate; the sample is
written after the bulk, its first deadline `LEAD_S` later, and the benchmark ends when every sample
deadline has fired or `SETTLE_S` after the last one was due). A sample deadline
uses a key no cursor owns, so the planner treats it as stale and the step stays small: what is
measured is the waiter (index scan, wake-up, fence-guarded delete), not the escalation rules.
Lateness is the engine's own record: fired at - due at.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

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
from bench.machine import percentile
from notifier.store.engine_tables import deadlines

LEAD_S = 1.0  # from writing the sample to its first deadline
SETTLE_S = 2.0  # after the last sample deadline, for the late ones


async def _insert(engine: Any, rows: list[tuple[str, int, datetime]]) -> None:
    async with engine.stepper.transaction() as conn:
        for chunk in range(0, len(rows), 5000):
            values = [
                {"activation_id": a, "key": f"bench:{i}", "due_at": due, "fence": 0}
                for a, i, due in rows[chunk : chunk + 5000]
            ]
            await conn.execute(insert(deadlines), values)


async def lateness(
    stores: Stores, kind: str, pending: int, sample: int, per_second: float, workdir: Path
) -> dict[str, float]:
    holders = 20
    config = workdir / f"timers-{kind}"
    write_config(config, holders, [Tree(f"t{i}", range(i, i + 1)) for i in range(holders)])
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms").start()
    try:
        url = await stores.new(kind)
        runtime = await start_runtime(settings_for(url, config, sandbox, port))
        engine = runtime.engine
        assert engine is not None
        try:
            ids = [await engine.activate(f"t{i}", started_by="bench") for i in range(holders)]
            await engine.wait_idle(30)
            far = engine.clock.now() + timedelta(days=1)
            await _insert(
                engine, [(ids[i % holders], i, far + timedelta(seconds=i)) for i in range(sample, pending)]
            )
            # the sample after the bulk, so that the first is due LEAD_S after its own small insert
            first = engine.clock.now() + timedelta(seconds=LEAD_S)
            engine.waiter.lateness.clear()
            await _insert(
                engine,
                [(ids[i % holders], i, first + timedelta(seconds=i / per_second)) for i in range(sample)],
            )
            engine.stepper.deadlines_changed.set()
            end = time.monotonic() + LEAD_S + sample / per_second + SETTLE_S
            while len(engine.waiter.lateness) < sample and time.monotonic() < end:
                await asyncio.sleep(0.05)
            late = [x * 1000 for x in engine.waiter.lateness]
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    return {
        "pending": float(pending),
        "fired": float(len(late)),
        "expected": float(sample),
        "p50_ms": percentile(late, 50),
        "p99_ms": percentile(late, 99),
        "max_ms": max(late, default=0.0),
    }
