"""`/healthz` answers while the process lives; `/readyz` follows the store and, when MQTT is enabled,
the broker connection, which `/metrics` shows as `notifier_mqtt_connected` (a real mosquitto)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx

from bench.mosquitto import Broker
from notifier.store.db import upgrade_async
from tests.engine.conftest import running_system, write_small_config
from tests.ops.test_metrics import sample


async def _until_status(client: httpx.AsyncClient, wanted: int, timeout: float = 20) -> httpx.Response:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        response = await client.get("/readyz")
        if response.status_code == wanted or loop.time() > end:
            return response
        await asyncio.sleep(0.1)


async def test_readyz_and_the_gauge_follow_the_mqtt_broker(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    await asyncio.to_thread(broker.start)
    overrides = write_small_config(tmp_path / "cfg")
    mqtt = {"enabled": True, "port": broker.port, "client_id": "ops-readyz"}
    try:
        async with (
            running_system(tmp_path, mqtt=mqtt, **overrides) as system,
            httpx.AsyncClient(base_url=system.settings.public_base_url, timeout=10) as client,
        ):
            ready = await _until_status(client, 200)
            assert ready.json() == {
                "ready": True,
                "checks": {"database": True, "dispatcher": True, "mqtt": True},
                "providers": {"twilio": True, "smtp": True, "apprise": True},
                "degraded": False,
            }
            assert sample((await client.get("/metrics")).text, "notifier_mqtt_connected") == 1
            await asyncio.to_thread(broker.stop)
            gone = await _until_status(client, 503)
            assert gone.status_code == 503 and gone.json()["checks"]["mqtt"] is False
            assert sample((await client.get("/metrics")).text, "notifier_mqtt_connected") == 0
            assert (await client.get("/healthz")).json() == {"status": "ok"}
    finally:
        await asyncio.to_thread(broker.stop)


async def test_readyz_without_mqtt_follows_the_store(tmp_path: Path) -> None:
    overrides = write_small_config(tmp_path / "cfg")
    data = tmp_path / "data"
    data.mkdir()
    overrides["database_url"] = f"sqlite+aiosqlite:///{data / 'n.db'}"
    await upgrade_async(str(overrides["database_url"]))
    async with (
        running_system(tmp_path, **overrides) as system,
        httpx.AsyncClient(base_url=system.settings.public_base_url, timeout=10) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and "mqtt" not in ready.json()["checks"]
        # the store goes away: its directory is removed and pooled connections are dropped
        await system.db.dispose()  # type: ignore[union-attr]
        shutil.rmtree(data)
        gone = await client.get("/readyz")
        assert gone.status_code == 503 and gone.json()["checks"]["database"] is False
        assert (await client.get("/healthz")).status_code == 200
        data.mkdir()  # let the runtime stop cleanly
