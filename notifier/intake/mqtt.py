"""MQTT intake and activation events (aiomqtt 2.5, MQTT 3.1.1).

Alerts: `<prefix>/alerts/#` at QoS 1 on a persistent session (fixed client id, clean_session off),
so the broker keeps what is published while we are away; with `shared_group` set, instances share
`$share/<group>/<prefix>/alerts/#` and each alert goes to one of them.

Nothing lost: aiomqtt hands a message to the application only after paho has already sent its
PUBACK (paho acknowledges when its `on_message` callback returns, which merely queues the message).
We switch paho to manual acknowledgement before connecting and send the PUBACK ourselves only after
the alert is durably stored (or set aside in the dead-letter topic). While the store is down the
message is kept and retried with backoff; if we crash or lose the connection first, the broker
delivers it again, and the engine's dedup key makes the repeat harmless. Messages are handled one
at a time, so acknowledgements leave in the order the broker sent them, as MQTT requires.

A payload that is not a valid native alert is logged (topic and reason, never the payload: it may
hold personal data) and published to `<prefix>/deadletter` with the reason, the topic and the
original payload; then it is acknowledged and the daemon carries on.

Status: retained `<prefix>/status` = `online` after connecting, with a last will `offline` (the
broker publishes it if we vanish); a clean stop publishes `offline` itself. Activation changes are
published to `<prefix>/events/activations/<id>` at QoS 1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import structlog

from notifier.api.engine_api import AlertReceipt, StoreUnavailable
from notifier.clock import Clock
from notifier.domain.alerts import Alert, PayloadError, parse_native
from notifier.engine.stepper import StepResult
from notifier.intake.events import EventTracker
from notifier.settings import MqttSettings

log = structlog.get_logger("notifier.mqtt")

Submit = Callable[[list[Alert]], Awaitable[list[AlertReceipt]]]
MAX_PENDING_EVENTS = 10_000
MAX_PAYLOAD = 1_000_000


UNEXPECTED_TRIES = 3


class _Unexpected(Exception):
    pass


class BadPayload(ValueError):
    """The message cannot become an alert; the text is the dead-letter reason."""


def parse_payload(payload: bytes, clock: Clock) -> list[Alert]:
    """One native alert, or a JSON array of them, from an MQTT payload."""
    if len(payload) > MAX_PAYLOAD:
        raise BadPayload(f"payload larger than {MAX_PAYLOAD} bytes")
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadPayload("payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadPayload(f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BadPayload("expected at least one alert")
    alerts: list[Alert] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            alerts.append(parse_native(item, received_at=clock.now(), source="mqtt"))
        except PayloadError as exc:
            prefix = f"[{index}]" if isinstance(data, list) else ""
            problems += [f"{prefix}{'.' if prefix and p.path else ''}{p}" for p in exc.problems]
    if problems:
        raise BadPayload("; ".join(problems))
    return alerts


def dead_letter(reason: str, topic: str, payload: bytes, clock: Clock) -> bytes:
    try:
        original: dict[str, str] = {"payload": payload.decode("utf-8")}
    except UnicodeDecodeError:
        original = {"payload_base64": base64.b64encode(payload).decode("ascii")}
    body = {"reason": reason, "topic": topic, **original, "received_at": clock.now().isoformat()}
    return json.dumps(body, ensure_ascii=False).encode()


class MqttIntake:
    """Consumes alerts and publishes activation events; `run()` until `stop()`."""

    def __init__(
        self,
        settings: MqttSettings,
        submit: Submit,
        clock: Clock,
        *,
        on_connection: Callable[[bool], None] | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.settings = settings
        self.submit = submit
        self.clock = clock
        self.on_connection = on_connection
        self.backoff = backoff
        self.prefix = settings.prefix.strip("/")
        self.connected = False
        self.counts: dict[str, int] = {"stored": 0, "deadletter": 0, "retries": 0, "events": 0, "dropped": 0}
        self._events: deque[tuple[str, bytes]] = deque()
        self._events_ready = asyncio.Event()
        self._tracker = EventTracker()
        self._stopping = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    # --- topics ----------------------------------------------------------------------------
    @property
    def alerts_filter(self) -> str:
        topic = f"{self.prefix}/alerts/#"
        group = self.settings.shared_group
        return f"$share/{group}/{topic}" if group else topic

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status"

    # --- engine listener -------------------------------------------------------------------
    def on_step(self, result: StepResult) -> None:
        """Engine step listener: queue the activation's changes for publishing (never blocks)."""
        for event in self._tracker.observe(result.activation_id, result.state, self.clock.now()):
            topic = f"{self.prefix}/events/activations/{result.activation_id}"
            self._events.append((topic, json.dumps(event).encode()))
            if len(self._events) > MAX_PENDING_EVENTS:
                self._events.popleft()
                self.counts["dropped"] += 1
        self._events_ready.set()

    # --- lifecycle -------------------------------------------------------------------------
    async def run(self) -> None:
        delay = self.backoff[0]
        while not self._stopping.is_set():
            try:
                await self._session()
                delay = self.backoff[0]
            except aiomqtt.MqttError as exc:
                log.warning("mqtt disconnected", error=str(exc) or type(exc).__name__, retry_in=delay)
            except Exception:  # the daemon keeps serving HTTP; MQTT comes back after the backoff
                log.exception("mqtt session failed", retry_in=delay)
            finally:
                self._set_connected(False)
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.backoff[1])

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="mqtt")
        return self._task

    async def stop(self, timeout: float = 5.0) -> None:
        """Say `offline` (retained) and disconnect cleanly; unacknowledged messages stay at the broker."""
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                await client.publish(self.status_topic, "offline", qos=1, retain=True, timeout=2)
        self._stopping.set()
        if self._task is not None:
            _done, pending = await asyncio.wait({self._task}, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _set_connected(self, value: bool) -> None:
        if self.connected != value:
            self.connected = value
            if self.on_connection is not None:
                self.on_connection(value)

    async def _session(self) -> None:
        s = self.settings
        client = aiomqtt.Client(
            s.host,
            s.port,
            identifier=s.client_id,
            clean_session=False,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            will=aiomqtt.Will(self.status_topic, "offline", qos=1, retain=True),
            keepalive=s.keepalive,
            timeout=10,
        )
        # before CONNECT: a persistent session may deliver queued messages right after CONNACK
        client._client.manual_ack_set(True)
        async with client:
            self._client = client
            try:
                await client.subscribe(self.alerts_filter, qos=1)
                await client.publish(self.status_topic, "online", qos=1, retain=True)
                self._set_connected(True)
                log.info("mqtt connected", host=s.host, port=s.port, subscription=self.alerts_filter)
                await self._serve(client)
            finally:
                self._client = None

    async def _serve(self, client: aiomqtt.Client) -> None:
        consumer = asyncio.create_task(self._consume(client), name="mqtt-consume")
        publisher = asyncio.create_task(self._publish_events(client), name="mqtt-events")
        stopping = asyncio.create_task(self._stopping.wait(), name="mqtt-stop")
        try:
            await asyncio.wait({consumer, publisher, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (consumer, publisher, stopping):
                task.cancel()
            results = await asyncio.gather(consumer, publisher, stopping, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):  # CancelledError is not an Exception
                raise result

    async def _consume(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if await self._handle(client, message) and message.qos > 0:
                client._client.ack(message.mid, message.qos)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> bool:
        """True when the message may be acknowledged: stored, or set aside as a dead letter."""
        topic = str(message.topic)
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        try:
            alerts = parse_payload(payload, self.clock)
        except BadPayload as exc:
            await self._set_aside(client, topic, payload, str(exc))
            return True
        try:
            return await self._store(alerts, topic)
        except _Unexpected as exc:
            await self._set_aside(client, topic, payload, str(exc))
            return True

    async def _set_aside(self, client: aiomqtt.Client, topic: str, payload: bytes, reason: str) -> None:
        log.warning("mqtt payload set aside", topic=topic, reason=reason, size=len(payload))
        body = dead_letter(reason, topic, payload, self.clock)
        await client.publish(f"{self.prefix}/deadletter", body, qos=1)
        self.counts["deadletter"] += 1

    async def _store(self, alerts: list[Alert], topic: str) -> bool:
        """Submit until stored; a failing store is retried with backoff and never acknowledged meanwhile.

        Returns False when asked to stop first (the broker keeps the message for the next run).
        An error other than an unavailable store is retried `UNEXPECTED_TRIES` times, then raised
        as `_Unexpected` so one poisonous message cannot hold up every alert behind it.
        """
        delay = self.backoff[0]
        unexpected = 0
        while True:
            try:
                receipts = await self.submit(alerts)
            except StoreUnavailable as exc:
                self.counts["retries"] += 1
                log.warning(
                    "mqtt alert not stored yet; keeping it", topic=topic, error=str(exc), retry_in=delay
                )
            except Exception as exc:
                unexpected += 1
                log.exception("mqtt alert failed", topic=topic, attempt=unexpected)
                if unexpected >= UNEXPECTED_TRIES:
                    raise _Unexpected(
                        f"internal error while storing the alert: {type(exc).__name__}"
                    ) from exc
            else:
                self.counts["stored"] += len(alerts)
                for receipt in receipts:
                    log.info(
                        "mqtt alert", topic=topic, status=receipt.status, activation_id=receipt.activation_id
                    )
                return True
            if self._stopping.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.backoff[1])

    async def _publish_events(self, client: aiomqtt.Client) -> None:
        while True:
            while self._events:
                topic, body = self._events[0]
                await client.publish(topic, body, qos=1)
                self._events.popleft()
                self.counts["events"] += 1
            self._events_ready.clear()
            await self._events_ready.wait()


def start_mqtt(runtime: Any) -> MqttIntake | None:
    """Wire the intake into a started `notifier.runtime.Runtime` when `mqtt.enabled`; None otherwise."""
    settings = runtime.settings.mqtt
    if not settings.enabled:
        return None
    from notifier.metrics import set_mqtt_connected

    intake = MqttIntake(
        settings,
        runtime.service.submit_alerts,
        runtime.clock,
        on_connection=lambda connected: set_mqtt_connected(runtime.metrics, connected),
    )
    runtime.engine.on_step(intake.on_step)
    intake.start()
    return intake
