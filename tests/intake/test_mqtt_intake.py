"""The MQTT intake on its own against a real mosquitto: acknowledgement only after the store took the
alert, shared subscriptions, and a clean `offline` status on stop.

`submit` here is a plain function standing in for `EngineService.submit_alerts`; it raises the same
`StoreUnavailable` the service raises when the database cannot be written.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from notifier.api.engine_api import AlertReceipt, StoreUnavailable
from notifier.clock import RealClock
from notifier.domain.alerts import Alert
from notifier.intake.mqtt import MqttIntake
from notifier.settings import MqttSettings

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


async def until(predicate: Any, what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_alert_is_kept_while_the_store_is_down(broker: Broker) -> None:
    store = Store(failures=2)
    consumer = intake(broker, store, "notifier-retry")
    consumer.start()
    try:
        await until(lambda: consumer.connected, "connect")
        await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
        await until(lambda: store.alerts, "the alert to be stored")
    finally:
        await consumer.stop()
    assert [a.dedup_key for a in store.alerts] == ["taric-1"] and [a.source for a in store.alerts] == ["mqtt"]
    assert consumer.counts["retries"] == 2 and consumer.counts["stored"] == 1


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
