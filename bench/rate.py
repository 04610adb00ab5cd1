"""Benchmark 2: sender-rate adherence. A pool of sender numbers with a configured rate per sender;
the sandbox's arrival times tell the achieved rate and its deviation from the configured one.

Idle gaps are read from the pool's own schedule, not from the arrivals: the benchmark records the
start time the pool gives each send (`SenderPool.reserve`, on the same epoch clock the sandbox stamps
arrivals with). An idle gap is a pause of more than three intervals of the configured rate in that
schedule: the senders had nothing to send (the dispatcher gave them no work), which is what the goal
rules out. A pause of the same length between arrivals while the schedule went on is a late gap:
the sends were due and left late (the daemon's or the sandbox's event loop was busy: a collection, a
batch of steps), and the pool's slots, reserved ahead, send the late ones back to back after it, so
the rate is kept. Late gaps and the worst lateness (arrival minus scheduled start) are reported
beside, never hidden; a gap at the provider used to be counted as idle whatever its cause.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

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
from bench.machine import percentile
from notifier.domain.plan import ChannelKind


async def adherence(stores: Stores, kind: str, count: int, rate: float, workdir: Path) -> dict[str, float]:
    senders = SENDERS[:10]
    config = workdir / f"rate-{kind}-{count}-{rate:g}"
    write_config(config, count, [Tree("bulk", range(count))])
    port = free_port()
    sandbox = SandboxProcess(
        inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms"
    ).start()
    try:
        url = await stores.new(kind)
        settings = settings_for(url, config, sandbox, port)
        settings.twilio.from_numbers = senders
        settings.twilio.rate_per_sender = rate / len(senders)
        runtime = await start_runtime(settings)
        slots = record_schedule(runtime.engine.dispatcher.pools[ChannelKind.SMS])
        try:
            await runtime.engine.activate("bulk", fields={"nature": "Rate benchmark"}, started_by="bench")
            await wait_sent(runtime, count, timeout=count / rate * 3 + 120)
            times = sorted(r[0] for r in await sandbox.requests() if r[1] == "Messages.json")
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    return figures(rate, slots, times)


def record_schedule(pool: Any) -> list[float]:
    """The start time (epoch s) of every send the pool schedules from now on (an instance attribute
    shadows its `reserve`; the pool's behaviour is unchanged)."""
    slots: list[float] = []
    reserve = pool.reserve

    def recorded(now: float, cost: float = 1.0) -> Any:
        reservation = reserve(now, cost)
        slots.append(reservation.at)
        return reservation

    pool.reserve = recorded
    return slots


def figures(rate: float, slots: list[float], arrivals: list[float]) -> dict[str, float]:
    times = sorted(arrivals)
    # the first second is the pool's burst allowance; judge the steady state after it
    steady = [t for t in times if t >= times[0] + 1.0] if times else []
    achieved = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    per_second: dict[int, int] = {}
    for t in steady:
        per_second[int(t - steady[0])] = per_second.get(int(t - steady[0]), 0) + 1
    full_seconds = list(per_second.values())[:-1] or [0]
    limit = 3 / rate
    schedule = sorted(slots)
    idle = [(a, b) for a, b in itertools.pairwise(schedule) if b - a > limit]
    at_provider = [(a, b) for a, b in itertools.pairwise(times) if b - a > limit]
    # a pause at the provider that no pause in the schedule explains: sends due, and late
    late = [(a, b) for a, b in at_provider if not any(sa < b and sb > a for sa, sb in idle)]
    lateness = [(t - s) * 1000 for t, s in zip(times, schedule, strict=False)]
    return {
        "configured": rate,
        "achieved": achieved,
        "deviation_pct": (achieved - rate) / rate * 100,
        "worst_second": min(full_seconds),
        "best_second": max(full_seconds),
        "max_gap_ms": max((b - a for a, b in itertools.pairwise(times)), default=0.0) * 1000,
        "idle_gaps": float(len(idle)),
        "max_idle_ms": max((b - a for a, b in idle), default=0.0) * 1000,
        "late_gaps": float(len(late)),
        "late_p99_ms": percentile(lateness, 99),
        "late_max_ms": max(lateness, default=0.0),
        "scheduled": float(len(schedule)),
    }
