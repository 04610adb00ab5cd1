"""`/healthz` answers while the process lives; `/readyz` follows the store and, when MQTT is enabled,
the consumer's connection (reported through `notifier.metrics.set_mqtt_connected`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from notifier.metrics import set_mqtt_connected
from tests.engine.conftest import running_system, write_small_config


async def test_readyz_follows_mqtt_connection_and_the_store(tmp_path: Path) -> None:
    overrides = write_small_config(tmp_path / "cfg")
    data = tmp_path / "data"
    data.mkdir()
    overrides["database_url"] = f"sqlite+aiosqlite:///{data / 'n.db'}"
    from notifier.store.db import upgrade_async

    await upgrade_async(str(overrides["database_url"]))
    async with (
        running_system(tmp_path, mqtt={"enabled": True}, **overrides) as system,
        httpx.AsyncClient(base_url=system.settings.public_base_url, timeout=10) as client,
    ):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        not_yet = await client.get("/readyz")
        assert not_yet.status_code == 503
        assert not_yet.json()["checks"] == {"database": True, "dispatcher": True, "mqtt": False}
        set_mqtt_connected(system.metrics, True)
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        set_mqtt_connected(system.metrics.registry, False)  # type: ignore[union-attr]
        assert (await client.get("/readyz")).status_code == 503
        set_mqtt_connected(system.metrics, True)
        # the store goes away (its directory is removed; pooled connections dropped)
        await system.db.dispose()  # type: ignore[union-attr]
        shutil.rmtree(data)
        gone = await client.get("/readyz")
        assert gone.status_code == 503
        assert gone.json()["checks"]["database"] is False
        assert (await client.get("/healthz")).status_code == 200
        data.mkdir()  # let the runtime stop cleanly


async def test_readyz_without_mqtt_needs_only_the_store(tmp_path: Path) -> None:
    overrides = write_small_config(tmp_path / "cfg")
    async with (
        running_system(tmp_path, **overrides) as system,
        httpx.AsyncClient(base_url=system.settings.public_base_url, timeout=10) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert "mqtt" not in ready.json()["checks"]
