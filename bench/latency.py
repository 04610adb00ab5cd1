"""Benchmark 3: an alert accepted over HTTP and over MQTT -> the first provider request, at a steady
50 alerts/s.

Each alert names the TAXUD service SEED with its own dedup key, so each starts its own activation of
a one-person tree. Latency is the sandbox's arrival time of the SMS request minus the moment the
client started the POST or the MQTT publish (same machine, same wall clock). Both senders are open
loop: alert i leaves at start + i / rate whatever the answers to the earlier ones take.

MQTT: a mosquitto of its own on free loopback ports (`bench.mosquitto.Broker`); the runtime's intake
is enabled through `Settings.mqtt` and subscribes to `notifier/alerts/#`; the benchmark publishes
each alert at QoS 1 to `notifier/alerts/bench` on the broker's second listener. An MQTT alert counts
as accepted when its SMS reached the sandbox (publishing has no answer from the daemon to count).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

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
from bench.mosquitto import Broker
from notifier.api.tokens import Role, TokenStore

# each alert is its own outage (its own incident key), so each one starts an activation
ROUTE = "  - {id: seed-down, match: {services: [SEED]}, calltree: oncall, incident_key: {by: explicit}}"
TOPIC = "notifier/alerts/bench"
SETTLE_S = 60.0  # how long to wait after the last alert for the SMS requests still on their way


def alert(i: int) -> dict[str, str]:
    """The native alert both intakes receive; its incident key makes each one a new activation."""
    return {
        "service": "SEED",
        "severity": "critical",
        "summary": f"SEED down {i}",
        "source": "bench",
        "dedup_key": f"bench-{i}",
        "incident_key": f"bench-{i}",
    }


def _figures(alerts: int, accepted: int, starts: list[float], arrivals: list[float]) -> dict[str, float]:
    # one SMS per alert, each to the same person: pair the k-th arrival with the k-th send
    latencies = [(a - s) * 1000 for a, s in zip(sorted(arrivals), sorted(starts), strict=False)]
    return {
        "alerts": float(alerts),
        "accepted": float(accepted),
        "sms": float(len(arrivals)),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=0.0),
    }


async def _sms_arrivals(sandbox: SandboxProcess) -> list[float]:
    return [r[0] for r in await sandbox.requests() if r[1] == "Messages.json"]


async def _open_loop(alerts: int, per_second: float, send: Any) -> None:
    tasks: list[asyncio.Task[Any]] = []
    start = time.perf_counter()
    for i in range(alerts):  # open loop: a steady rate whatever the answers take
        await asyncio.sleep(max(0.0, start + i / per_second - time.perf_counter()))
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


async def latency(
    stores: Stores, kind: str, alerts: int, per_second: float, workdir: Path
) -> dict[str, dict[str, float]]:
    """Both halves of benchmark 3, each on a fresh store, runtime and sandbox."""
    return {
        "http": await http_latency(stores, kind, alerts, per_second, workdir),
        "mqtt": await mqtt_latency(stores, kind, alerts, per_second, workdir),
    }


async def http_latency(
    stores: Stores, kind: str, alerts: int, per_second: float, workdir: Path
) -> dict[str, float]:
    config = workdir / f"latency-{kind}"
    write_config(config, 1, [Tree("oncall", range(1))], routes=ROUTE)
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms").start()
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
                    sent[f"bench-{i}"] = time.time()
                    async with session.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=alert(i)) as r:
                        statuses.append(r.status)
                        await r.read()

                await _open_loop(alerts, per_second, post)
            await sandbox.wait_requests(alerts, timeout=SETTLE_S)
            arrivals = await _sms_arrivals(sandbox)
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
    accepted = sum(1 for s in statuses if s == 202)
    return _figures(alerts, accepted, list(sent.values()), arrivals)


async def mqtt_latency(
    stores: Stores, kind: str, alerts: int, per_second: float, workdir: Path
) -> dict[str, float]:
    config = workdir / f"latency-mqtt-{kind}"
    write_config(config, 1, [Tree("oncall", range(1))], routes=ROUTE)
    broker_dir = workdir / f"mosquitto-{kind}"
    broker_dir.mkdir(parents=True, exist_ok=True)
    broker = Broker(broker_dir)
    await asyncio.to_thread(broker.start)
    port = free_port()
    sandbox = SandboxProcess(inbound_sms_url=f"http://127.0.0.1:{webhook_port(port)}/webhooks/twilio/sms").start()
    try:
        url = await stores.new(kind)
        mqtt = {"enabled": True, "port": broker.port, "prefix": "notifier", "client_id": f"bench-{kind}"}
        runtime = await start_runtime(settings_for(url, config, sandbox, port, mqtt=mqtt))
        sent: dict[str, float] = {}
        try:
            await _until(lambda: runtime.mqtt is not None and runtime.mqtt.connected, 20, "MQTT connected")
            publisher = aiomqtt.Client(
                "127.0.0.1", broker.side_port, identifier=f"bench-pub-{kind}", max_inflight_messages=1000
            )
            async with publisher:

                async def publish(i: int) -> None:
                    body = json.dumps(alert(i)).encode()
                    sent[f"bench-{i}"] = time.time()
                    await publisher.publish(TOPIC, body, qos=1)

                await _open_loop(alerts, per_second, publish)
            # no answer to count: wait for the SMS requests themselves, and report how many came
            end = time.monotonic() + SETTLE_S
            while (await sandbox.count())["requests"] < alerts and time.monotonic() < end:
                await asyncio.sleep(0.1)
            arrivals = await _sms_arrivals(sandbox)
        finally:
            await runtime.stop(timeout=10)
    finally:
        sandbox.stop()
        await asyncio.to_thread(broker.stop)
    return _figures(alerts, len(arrivals), list(sent.values()), arrivals)


async def _until(predicate: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
