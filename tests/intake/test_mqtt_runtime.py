"""Issue 4 acceptance, MQTT: a real mosquitto broker and the whole daemon in-process (`Runtime`).

`mosquitto_pub` of a native alert starts an activation; a malformed payload lands in the dead-letter
topic and the daemon keeps serving; alerts published with QoS 1 while the daemon cannot reach the
broker, across two broker restarts, are all stored once it is back.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from notifier.runtime import Runtime, make_clock
from notifier.store.db import upgrade_async
from notifier.store.engine_tables import alerts
from tests.engine.conftest import free_port, system_settings
from tests.waiting import until

from .conftest import Broker, listen

SEED_DOWN = {
    "service": "SEED",
    "severity": "critical",
    "summary": "SEED EMCS core unavailable",
    "source": "zabbix",
    "dedup_key": "seed-core-1",
}
FULL_NUMBER = re.compile(r"\+\d{8,}")


@pytest.fixture
async def daemon(tmp_path: Path, broker: Broker) -> AsyncIterator[Runtime]:
    port = free_port()
    settings = system_settings(
        tmp_path,
        port,
        mqtt={"enabled": True, "port": broker.port, "prefix": "notifier", "client_id": "notifier-test"},
    )
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, make_clock(settings))
    await runtime.start()
    try:
        await until(lambda: runtime.mqtt.connected, "the daemon to connect to the broker")
        yield runtime
    finally:
        await runtime.stop(timeout=5)


async def stored_keys(runtime: Runtime, outcome: str | None = None) -> list[str]:
    """Dedup keys of the MQTT alerts stored (rejected ones, i.e. dead letters, only when asked)."""
    assert runtime.db is not None
    query = select(alerts.c.dedup_key).where(alerts.c.source == "mqtt")
    query = query.where(alerts.c.outcome == outcome if outcome else alerts.c.outcome != "rejected")
    async with runtime.db.connect() as conn:
        return [r[0] for r in await conn.execute(query)]


async def test_mosquitto_pub_starts_an_activation_and_events_follow(daemon: Runtime, broker: Broker) -> None:
    assert daemon.service is not None
    async with listen(broker.side_port, "notifier/#") as heard:
        await heard.wait("notifier/status")
        assert heard.on("notifier/status")[-1] == b"online"
        assert any(retained for topic, _, retained in heard.received if topic == "notifier/status")

        await asyncio.to_thread(broker.publish, "notifier/alerts/zabbix", json.dumps(SEED_DOWN))
        started = await until(lambda: daemon.service.list_activations(None, 10), "an activation")
        assert [a.tree for a in started] == ["taxud-crisis"]  # route tier1-crisis: SEED has RTO tier 1
        activation_id = started[0].id
        assert await stored_keys(daemon) == ["seed-core-1"]

        topic = f"notifier/events/activations/{activation_id}"
        await heard.wait(topic, 2)
        events = heard.json(topic)
        assert events[0]["event"] == "activation" and events[0]["status"] == "open"
        assert any(e["event"] == "node" and e["status"] == "notifying" for e in events)

        # the same alert again (a publisher retrying) starts nothing new
        await asyncio.to_thread(broker.publish, "notifier/alerts/zabbix", json.dumps(SEED_DOWN))
        await until(lambda: _count(daemon, 2), "the repeat to be stored")
        assert len(await daemon.service.list_activations(None, 10)) == 1

        # an acknowledgement on behalf is published; closing too; no contact data ever
        person = started_person(daemon, activation_id)
        await daemon.service.acknowledge(activation_id, person, "coordinator", "ack")
        await until(lambda: any(e["event"] == "acknowledged" for e in heard.json(topic)), "an ack event")
        ack = next(e for e in heard.json(topic) if e["event"] == "acknowledged")
        assert ack["person"] == person and ack["via"]
        await daemon.service.close(activation_id, "coordinator", "SEED is back")
        await until(lambda: any(e.get("status") == "closed" for e in heard.json(topic)), "a closed event")
        for payload in heard.on("notifier/events/"):
            assert not FULL_NUMBER.search(payload.decode()) and "@" not in payload.decode()


async def _count(runtime: Runtime, n: int) -> bool:
    return len(await stored_keys(runtime)) >= n


def started_person(runtime: Runtime, activation_id: str) -> str:
    assert runtime.engine is not None
    state = runtime.engine.stepper._states.get(activation_id)
    assert state is not None
    return next(c.person for c in state.state.cursors.values() if c.status == "notifying")


async def test_malformed_payloads_go_to_the_dead_letter_topic(daemon: Runtime, broker: Broker) -> None:
    assert daemon.service is not None
    async with listen(broker.side_port, "notifier/deadletter") as heard:
        await asyncio.to_thread(broker.publish, "notifier/alerts/zabbix", "{not json")
        await asyncio.to_thread(broker.publish, "notifier/alerts/nagios/eos", json.dumps({"service": "EOS"}))
        await asyncio.to_thread(broker.publish, "notifier/alerts/raw", b"\xff\xfe")
        letters = [json.loads(p) for p in await heard.wait("notifier/deadletter", 3)]
    assert letters[0]["topic"] == "notifier/alerts/zabbix"
    assert letters[0]["reason"].startswith("payload is not JSON") and letters[0]["payload"] == "{not json"
    assert letters[1]["topic"] == "notifier/alerts/nagios/eos"
    assert "severity: is required" in letters[1]["reason"] and "summary: is required" in letters[1]["reason"]
    assert json.loads(letters[1]["payload"]) == {"service": "EOS"}
    assert letters[2]["reason"] == "payload is not UTF-8 text" and letters[2]["payload_base64"] == "//4="

    # the daemon carries on: MQTT intake and HTTP both serve
    await asyncio.to_thread(broker.publish, "notifier/alerts/zabbix", json.dumps(SEED_DOWN))
    await until(lambda: daemon.service.list_activations(None, 10), "an activation after the bad payloads")
    assert await stored_keys(daemon) == ["seed-core-1"]
    assert len(await stored_keys(daemon, "rejected")) == 3  # each dead letter is listed as rejected
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["mqtt"] is True


async def test_no_alert_lost_while_the_daemon_is_cut_off_from_the_broker(
    daemon: Runtime, broker: Broker
) -> None:
    assert daemon.mqtt is not None
    await asyncio.to_thread(broker.stop)
    await until(lambda: not daemon.mqtt.connected, "the daemon to notice the broker is gone")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["mqtt"] is False

    # the broker comes back without the daemon's listener: publishers go on, the daemon cannot connect
    await asyncio.to_thread(broker.start, daemon_listener=False)
    keys = ["seed-core-1"] + [f"lab-{i}" for i in range(4)]
    await asyncio.to_thread(broker.publish, "notifier/alerts/zabbix", json.dumps(SEED_DOWN))
    for key in keys[1:]:
        alert = {"service": "TEST-LAB", "severity": "info", "summary": f"lab probe {key}", "dedup_key": key}
        await asyncio.to_thread(broker.publish, "notifier/alerts/lab", json.dumps(alert))
    assert not daemon.mqtt.connected and await stored_keys(daemon) == []

    # a second restart (persistence on disk), now with the daemon's listener: everything arrives
    await asyncio.to_thread(broker.stop)
    await asyncio.to_thread(broker.start)
    await until(lambda: daemon.mqtt.connected, "the daemon to reconnect", timeout=40)
    await until(lambda: _count(daemon, len(keys)), "every queued alert to be stored")
    assert sorted(await stored_keys(daemon)) == sorted(keys)
    started = await daemon.service.list_activations(None, 10)  # type: ignore[union-attr]
    assert [a.tree for a in started] == ["taxud-crisis"]
