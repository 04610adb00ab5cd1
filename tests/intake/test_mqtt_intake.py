"""The MQTT intake on its own against a real mosquitto: acknowledgement only after the store took the
alert, shared subscriptions, and a clean `offline` status on stop.

`submit` here is a plain function standing in for `EngineService.submit_alerts_together`; it raises
the same `StoreUnavailable` the service raises when the database cannot be written.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest
import sqlalchemy.exc

from notifier.api.engine_api import AlertReceipt, StoreUnavailable
from notifier.clock import RealClock
from notifier.domain.alerts import Alert
from notifier.intake.mqtt import UNEXPECTED_TRIES, MqttIntake
from notifier.settings import MqttSettings
from tests.waiting import until

from .conftest import Broker, listen

TARIC_DOWN = {
    "service": "TARIC",
    "severity": "critical",
    "summary": "TARIC3 not answering",
    "dedup_key": "taric-1",
}


class Store:
    """Records alerts; `down` makes it raise StoreUnavailable like a failing database."""

    def __init__(self, down: bool = False, failures: int = 0) -> None:
        self.down = down
        self.failures = failures
        self.alerts: list[Alert] = []
        self.calls = 0

    async def submit(self, alerts: list[Alert]) -> list[AlertReceipt]:
        self.calls += 1
        if self.down or self.calls <= self.failures:
            raise StoreUnavailable("database is locked")
        self.alerts += alerts
        return [AlertReceipt(dedup_key=a.dedup_key, status="unrouted") for a in alerts]


def intake(broker: Broker, store: Store, client_id: str, **extra: Any) -> MqttIntake:
    settings = MqttSettings(enabled=True, port=broker.port, prefix="notifier", client_id=client_id, **extra)
    return MqttIntake(settings, store.submit, RealClock(), backoff=(0.05, 0.2))


async def publish_until_stored(broker: Broker, store: Store, client_id: str) -> MqttIntake:
    """Publish TARIC_DOWN once and run an intake until `store` holds it; the stopped intake."""
    consumer = intake(broker, store, client_id)
    consumer.start()
    try:
        await until(lambda: consumer.connected, "connect")
        await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
        await until(lambda: store.alerts, "the alert to be stored")
    finally:
        await consumer.stop()
    return consumer


async def test_an_alert_is_kept_while_the_store_is_down(broker: Broker) -> None:
    store = Store(failures=2)
    consumer = await publish_until_stored(broker, store, "notifier-retry")
    assert [a.dedup_key for a in store.alerts] == ["taric-1"] and [a.source for a in store.alerts] == ["mqtt"]
    assert consumer.counts["retries"] == 2 and consumer.counts["stored"] == 1


async def test_no_free_database_connection_is_retried_not_dead_lettered(broker: Broker) -> None:
    class Busy(Store):
        async def submit(self, alerts: list[Alert]) -> list[AlertReceipt]:
            self.calls += 1
            if self.calls <= UNEXPECTED_TRIES:  # as many as would dead-letter an unexpected error
                raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")
            return await super().submit(alerts)

    store = Busy()
    consumer = await publish_until_stored(broker, store, "notifier-pool")
    assert consumer.counts["retries"] == UNEXPECTED_TRIES and consumer.counts["deadletter"] == 0


async def test_an_unstored_alert_is_not_acknowledged_and_comes_back_after_a_restart(broker: Broker) -> None:
    down = Store(down=True)
    first = intake(broker, down, "notifier-ack")
    first.start()
    await until(lambda: first.connected, "connect")
    await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
    await until(lambda: first.counts["retries"] >= 2, "the store to be tried")
    await first.stop()  # the daemon stops while the database is still down
    assert down.alerts == []

    up = Store()
    second = intake(broker, up, "notifier-ack")  # same session: the broker redelivers what was not acked
    second.start()
    try:
        await until(lambda: up.alerts, "the redelivered alert")
    finally:
        await second.stop()
    assert [a.dedup_key for a in up.alerts] == ["taric-1"]


async def test_shared_subscription_gives_each_alert_to_one_instance(broker: Broker) -> None:
    stores = [Store(), Store()]
    consumers = [intake(broker, s, f"notifier-{i}", shared_group="notifiers") for i, s in enumerate(stores)]
    assert consumers[0].alerts_filter == "$share/notifiers/notifier/alerts/#"
    for consumer in consumers:
        consumer.start()
    try:
        await until(lambda: all(c.connected for c in consumers), "both instances to connect")
        for i in range(6):
            alert = {**TARIC_DOWN, "dedup_key": f"taric-{i}", "summary": f"probe {i}"}
            await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(alert))
        await until(lambda: sum(len(s.alerts) for s in stores) >= 6, "six alerts")
        await asyncio.sleep(0.3)
    finally:
        for consumer in consumers:
            await consumer.stop()
    keys = sorted(a.dedup_key for s in stores for a in s.alerts)
    assert keys == sorted(f"taric-{i}" for i in range(6))  # each exactly once across the instances


async def test_status_is_online_while_connected_and_offline_after_stop(broker: Broker) -> None:
    consumer = intake(broker, Store(), "notifier-status")
    async with listen(broker.side_port, "notifier/status") as heard:
        consumer.start()
        await heard.wait("notifier/status", 1)
        await consumer.stop()
        await heard.wait("notifier/status", 2)
    assert heard.on("notifier/status")[-2:] == [b"online", b"offline"]


class SlowStore(Store):
    """One transaction per call, which takes a while; notes the groups it was given."""

    def __init__(self, poison: str | None = None) -> None:
        super().__init__()
        self.groups: list[list[Alert]] = []
        self.poison = poison

    async def submit(self, alerts: list[Alert]) -> list[AlertReceipt]:
        await asyncio.sleep(0.02)
        if any(a.dedup_key == self.poison for a in alerts):
            raise RuntimeError("cannot store this one")
        self.groups.append(alerts)
        return await super().submit(alerts)


async def test_a_burst_is_stored_in_groups_acked_in_order_and_a_bad_message_does_not_block_it(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked: list[int] = []
    real_ack = paho.Client.ack

    def ack(self: paho.Client, mid: int, qos: int) -> Any:
        acked.append(mid)
        return real_ack(self, mid, qos)

    monkeypatch.setattr(paho.Client, "ack", ack)
    bursts: list[bytes] = []
    for i in range(300):
        bursts.append(json.dumps({**TARIC_DOWN, "dedup_key": f"burst-{i}", "summary": f"probe {i}"}).encode())
        if i % 15 == 0:  # the same key resolved right behind its firing: stored after it, never with it
            resolved = {**TARIC_DOWN, "dedup_key": f"burst-{i}", "status": "resolved"}
            bursts.append(json.dumps(resolved).encode())
        if i == 150:
            bursts.append(b'{"service": "TARIC", "phone": "+32470123456"')  # cut short: not JSON
    store = SlowStore()
    consumer = intake(broker, store, "notifier-burst")
    consumer.start()
    async with listen(broker.side_port, "notifier/deadletter") as heard:
        try:
            await until(lambda: consumer.connected, "connect")
            publisher = aiomqtt.Client("127.0.0.1", broker.side_port, max_inflight_messages=1000)
            async with publisher:
                await asyncio.gather(*(publisher.publish("notifier/alerts/burst", b, qos=1) for b in bursts))
            await until(lambda: len(store.alerts) == len(bursts) - 1, "the whole burst", timeout=30)
            letters = [json.loads(p) for p in await heard.wait("notifier/deadletter", 1)]
            await until(lambda: len(acked) == len(bursts), "every acknowledgement")
        finally:
            await consumer.stop()
    stored = [(a.dedup_key, a.status) for a in store.alerts]
    assert sorted(k for k, s in stored if s == "firing") == sorted(f"burst-{i}" for i in range(300))
    resolved = [k for k, s in stored if s == "resolved"]
    assert sorted(resolved) == sorted(f"burst-{i}" for i in range(0, 300, 15))
    for key in resolved:
        assert stored.index((key, "firing")) < stored.index((key, "resolved"))
    assert len(letters) == 1 and letters[0]["reason"].startswith("payload is not JSON")
    assert consumer.counts["stored"] == len(bursts) - 1 and consumer.counts["deadletter"] == 1
    assert max(len(group) for group in store.groups) > 1  # many messages per transaction
    for group in store.groups:
        assert len({a.dedup_key for a in group}) == len(group)  # a key at most once per transaction
    assert acked == sorted(acked)  # PUBACKs in the order the broker sent the messages (mids increase)

    # all acknowledged: the same session gets nothing again, only what is published next
    again = Store()
    second = intake(broker, again, "notifier-burst")
    second.start()
    try:
        await until(lambda: second.connected, "reconnect")
        await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
        await until(lambda: again.alerts, "the next alert")
        await asyncio.sleep(0.3)
    finally:
        await second.stop()
    assert [a.dedup_key for a in again.alerts] == ["taric-1"]


async def test_a_message_that_breaks_its_group_fails_alone(broker: Broker) -> None:
    store = SlowStore(poison="burst-7")
    consumer = intake(broker, store, "notifier-poison")
    consumer.start()
    async with listen(broker.side_port, "notifier/deadletter") as heard:
        try:
            await until(lambda: consumer.connected, "connect")
            async with aiomqtt.Client("127.0.0.1", broker.side_port) as publisher:
                for i in range(40):
                    alert = {**TARIC_DOWN, "dedup_key": f"burst-{i}"}
                    await publisher.publish("notifier/alerts/burst", json.dumps(alert), qos=1)
            await until(lambda: len(store.alerts) == 39, "all but the poisonous one")
            letters = [json.loads(p) for p in await heard.wait("notifier/deadletter", 1)]
        finally:
            await consumer.stop()
    assert sorted(a.dedup_key for a in store.alerts) == sorted(f"burst-{i}" for i in range(40) if i != 7)
    assert letters[0]["reason"] == "internal error while storing the alert: RuntimeError"
    assert json.loads(letters[0]["payload"])["dedup_key"] == "burst-7"
    assert consumer.counts["deadletter"] == 1 and consumer.counts["stored"] == 39
