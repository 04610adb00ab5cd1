"""Poison MQTT messages (issue 13, finding 1): a real mosquitto, each hostile payload published and
then a valid alert, which must be stored; every hostile one is set aside (dead letter with the
reason, acknowledged) and the session is never broken by one.

On 78bb7e0 `"[" * 100000` raised RecursionError in the session: the message was never acknowledged,
the broker redelivered it on every reconnect and the valid alert behind it was never stored.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.clock import RealClock
from notifier.domain.alerts import Alert
from notifier.intake import mqtt as mqtt_module
from notifier.intake.mqtt import BadPayload, MqttIntake, parse_payload
from notifier.settings import MqttSettings
from tests.hostile_strategies import hostile_body
from tests.waiting import until

from .conftest import Broker, listen
from .test_mqtt_intake import TARIC_DOWN, Store

HOSTILE = {
    "open brackets": b"[" * 100_000,
    "nested objects": b'{"a":' * 50_000,
    "200 KB field name": json.dumps({"x" * 200_000: "1", **TARIC_DOWN}).encode(),
    "100,000-digit integer": b'{"service": "TARIC", "severity": "critical", "summary": "s", "n": '
    + b"9" * 100_000
    + b"}",
}
REASONS = {
    "open brackets": "nested deeper than 32 levels",
    "nested objects": "nested deeper than 32 levels",
    "200 KB field name": "field name of 200000 characters (at most 256)",
    "100,000-digit integer": "n: a number of 100000 characters (at most 40)",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_each_hostile_payload_is_refused_with_its_reason(case: str) -> None:
    with pytest.raises(BadPayload) as refused:
        parse_payload(HOSTILE[case], RealClock())
    assert REASONS[case] in str(refused.value)
    assert len(str(refused.value)) < 1_000


async def test_hostile_payloads_are_set_aside_and_the_next_alert_is_stored(broker: Broker) -> None:
    """Finding 1 of issue 13: one MQTT payload stopped MQTT intake for good on 78bb7e0."""
    store = Store()
    connects: list[bool] = []
    settings = MqttSettings(enabled=True, port=broker.port, prefix="notifier", client_id="notifier-poison")
    consumer = MqttIntake(
        settings, store.submit, RealClock(), backoff=(0.05, 0.2), on_connection=connects.append
    )
    consumer.start()
    async with listen(broker.side_port, "notifier/deadletter") as heard:
        try:
            await until(lambda: consumer.connected, "connect")
            for payload in HOSTILE.values():
                await asyncio.to_thread(broker.publish, "notifier/alerts/hostile", payload)
            await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
            await until(lambda: store.alerts, "the valid alert behind the hostile ones")
            letters = [json.loads(p) for p in await heard.wait("notifier/deadletter", len(HOSTILE))]
        finally:
            await consumer.stop()
    assert [a.dedup_key for a in store.alerts] == ["taric-1"]
    assert consumer.counts["deadletter"] == len(HOSTILE)
    for case, letter in zip(HOSTILE, letters, strict=True):
        assert REASONS[case] in letter["reason"], (case, letter["reason"])
        assert letter["payload"].encode() == HOSTILE[case]  # the original, for whoever looks into it
    assert connects == [True, False]  # one session from start to stop: none was broken

    # everything was acknowledged: the same session gets none of them again
    again = Store()
    second = MqttIntake(settings, again.submit, RealClock(), backoff=(0.05, 0.2))
    second.start()
    try:
        await until(lambda: second.connected, "reconnect")
        await asyncio.sleep(0.5)
    finally:
        await second.stop()
    assert second.counts["deadletter"] == 0 and again.alerts == []


async def test_any_error_while_reading_a_message_sets_it_aside(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the errors we foresaw: whatever a payload makes the parser raise, the message is set
    aside with the reason and the session goes on."""
    real = mqtt_module.parse_native

    def parse_native(item: object, **kwargs: object) -> Alert:
        if isinstance(item, dict) and item.get("dedup_key") == "poison":
            raise MemoryError("pretend the parser ran out of memory")
        return real(item, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mqtt_module, "parse_native", parse_native)
    store = Store()
    settings = MqttSettings(enabled=True, port=broker.port, prefix="notifier", client_id="notifier-any")
    consumer = MqttIntake(settings, store.submit, RealClock(), backoff=(0.05, 0.2))
    consumer.start()
    async with listen(broker.side_port, "notifier/deadletter") as heard:
        try:
            await until(lambda: consumer.connected, "connect")
            poison = json.dumps({**TARIC_DOWN, "dedup_key": "poison"})
            await asyncio.to_thread(broker.publish, "notifier/alerts/taric", poison)
            await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(TARIC_DOWN))
            await until(lambda: store.alerts, "the alert behind the poison")
            letters = [json.loads(p) for p in await heard.wait("notifier/deadletter", 1)]
        finally:
            await consumer.stop()
    assert letters[0]["reason"] == "internal error while reading the payload: MemoryError"
    assert [a.dedup_key for a in store.alerts] == ["taric-1"]


# --- hypothesis: hostile payloads as an attacker would send them ------------------------------------

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@settings(FUZZ, max_examples=150)
@given(payload=hostile_body(TARIC_DOWN) | hostile_body({"alerts": [TARIC_DOWN]}))
def test_reading_a_hostile_payload_never_raises_anything_but_bad_payload(payload: str) -> None:
    try:
        alerts = parse_payload(payload.encode(), RealClock())
    except BadPayload as exc:
        assert 0 < len(str(exc)) <= 1_100
    else:
        assert alerts


@settings(FUZZ, max_examples=6)
@given(payloads=st.lists(hostile_body(TARIC_DOWN), min_size=1, max_size=5))
async def test_hostile_payloads_then_a_valid_alert_over_a_real_broker(
    broker: Broker, payloads: list[str]
) -> None:
    store = Store()
    settings_ = MqttSettings(enabled=True, port=broker.port, prefix="notifier", client_id="notifier-fuzz")
    consumer = MqttIntake(settings_, store.submit, RealClock(), backoff=(0.05, 0.2))
    consumer.start()
    try:
        await until(lambda: consumer.connected, "connect")
        for payload in payloads:
            await asyncio.to_thread(broker.publish, "notifier/alerts/fuzz", payload.encode())
        valid = {**TARIC_DOWN, "dedup_key": "after-the-fuzz"}
        await asyncio.to_thread(broker.publish, "notifier/alerts/taric", json.dumps(valid))
        await until(lambda: any(a.dedup_key == "after-the-fuzz" for a in store.alerts), "the valid alert")
        await until(
            lambda: consumer.counts["stored"] + consumer.counts["deadletter"] >= len(payloads) + 1, "all"
        )
    finally:
        await consumer.stop()
