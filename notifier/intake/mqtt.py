"""MQTT intake and activation events (aiomqtt 2.5, MQTT 3.1.1).

Alerts: `<prefix>/alerts/#` at QoS 1 on a persistent session (fixed client id, clean_session off),
so the broker keeps what is published while we are away; with `shared_group` set, instances share
`$share/<group>/<prefix>/alerts/#` and each alert goes to one of them.

Nothing lost: aiomqtt hands a message to the application only after paho has already sent its
PUBACK (paho acknowledges when its `on_message` callback returns, which merely queues the message).
We switch paho to manual acknowledgement before connecting and send the PUBACK ourselves only after
the alert is durably stored (or set aside in the dead-letter topic). While the store is down the
message is kept and retried with backoff; if we crash or lose the connection first, the broker
delivers it again, and the engine's dedup key makes the repeat harmless.

Throughput: storing an alert is a transaction, so one message at a time (about 33 alerts/s on
SQLite) cannot keep up with a burst. Every message that has arrived (up to `MAX_WINDOW` not yet
acknowledged; the broker's own in-flight limit, 20 by default in mosquitto, is usually the tighter
one) is parsed at once and handed to a group commit: the messages that pile up while one group is
being stored are stored together next, in one call of `submit` and one transaction (at most
`MAX_BATCH` alerts), which stores all of them or none. If a group fails with anything but an
unavailable store, its messages are tried again one by one, so a poisonous message fails alone.
Two messages carrying the same dedup key are never in one group: the later one waits until the
earlier one is stored (a repeat must see the activation the first one started; a `resolved` must
follow its `firing`). Acknowledgements leave strictly in the order the broker sent the messages,
as MQTT requires: a message stored early waits for the ones before it, and nothing is acknowledged
before it is stored.

A payload that is not a valid native alert is logged (topic and reason, never the payload: it may
hold personal data) and published to `<prefix>/deadletter` with the reason, the topic and the
original payload; then it is acknowledged and the daemon carries on.

Status: retained `<prefix>/status` = `online` after connecting, with a last will `offline` (the
broker publishes it if we vanish); a clean stop publishes `offline` itself. Activation changes are
published to `<prefix>/events/activations/<id>` at QoS 1, and each alert's outcome to
`<prefix>/events/alerts` (and to its activation's topic when it is recorded on one).
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

from notifier.clock import Clock
from notifier.domain.alerts import Alert, PayloadError, parse_native
from notifier.domain.jsonlimits import JsonLimits, JsonRejected, loads_bounded
from notifier.engine.alert_intake import AlertEvent
from notifier.engine.stepevents import step_events
from notifier.engine.stepper import StepResult
from notifier.intake.groupcommit import NOT_NOW, GroupCommit, Submit
from notifier.settings import LimitSettings, MqttSettings

log = structlog.get_logger("notifier.mqtt")

MAX_PENDING_EVENTS = 10_000
DEFAULT_LIMITS = LimitSettings().json_limits(LimitSettings().mqtt_payload_bytes)
MAX_REASON = 1_000
#: payloads larger than this are read in a worker thread (the event loop keeps serving)
OFF_LOOP_BYTES = 64_000


UNEXPECTED_TRIES = 3
#: messages taken from the broker and not yet acknowledged
MAX_WINDOW = 200
#: alerts stored in one transaction (a single message with more is stored on its own)
MAX_BATCH = 200


class _Unexpected(Exception):
    pass


class BadPayload(ValueError):
    """The message cannot become an alert; the text is the dead-letter reason."""


def parse_payload(
    payload: bytes, clock: Clock, limits: JsonLimits = DEFAULT_LIMITS, max_alerts: int = 1_000
) -> list[Alert]:
    """One native alert, or a JSON array of them, from an MQTT payload; BadPayload says why not.

    Read within `limits` (size first, then depth, number and field-name lengths: see
    `notifier.domain.jsonlimits`), so a hostile payload costs bounded work and is set aside.
    """
    try:
        data = loads_bounded(payload, limits, "payload")
    except JsonRejected as exc:
        raise BadPayload(reason_text("; ".join(exc.problems))) from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BadPayload("expected at least one alert")
    if len(items) > max_alerts:
        raise BadPayload(f"{len(items)} alerts, at most {max_alerts} in one payload")
    alerts: list[Alert] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            alerts.append(parse_native(item, received_at=clock.now(), source="mqtt"))
        except PayloadError as exc:
            prefix = f"[{index}]" if isinstance(data, list) else ""
            problems += [f"{prefix}{'.' if prefix and p.path else ''}{p}" for p in exc.problems]
    if problems:
        raise BadPayload(reason_text("; ".join(problems[:20])))
    return alerts


def reason_text(reason: str) -> str:
    """A dead-letter reason as logged and published: at most `MAX_REASON` characters."""
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "..."


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
        on_dead_letter: Callable[[str, int], Awaitable[None]] | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
        limits: LimitSettings | None = None,
    ) -> None:
        self.settings = settings
        limits = limits or LimitSettings()
        self.limits = limits.json_limits(limits.mqtt_payload_bytes)
        self.max_alerts = limits.alerts_per_request
        self.submit = submit
        self.clock = clock
        self.on_connection = on_connection
        #: told (reason, payload size) of each payload set aside: stored as a rejected alert
        self.on_dead_letter = on_dead_letter
        self.backoff = backoff
        self.prefix = settings.prefix.strip("/")
        self.connected = False
        self.counts: dict[str, int] = {"stored": 0, "deadletter": 0, "retries": 0, "events": 0, "dropped": 0}
        self._events: deque[tuple[str, bytes]] = deque()
        self._events_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._group = GroupCommit(submit, MAX_BATCH)  # one per session
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
        events = step_events(
            result.activation_id, result.before, result.state, result.changed, self.clock.now()
        )
        for event in events:
            self._queue(f"{self.prefix}/events/activations/{result.activation_id}", event)
        self._events_ready.set()

    def on_alert(self, event: AlertEvent) -> None:
        """Alert intake listener: `<prefix>/events/alerts`, and the activation's topic when the
        alert is recorded on one (started, joined, duplicate, suppressed, resolved)."""
        body = {
            "event": "alert",
            "alert_id": event.alert_id,
            "source": event.source,
            "outcome": event.outcome,
            "activation_id": event.activation_id,
            "incident_key": event.incident_key,
            "at": self.clock.now().isoformat(),
        }
        self._queue(f"{self.prefix}/events/alerts", body)
        if event.activation_id:
            self._queue(f"{self.prefix}/events/activations/{event.activation_id}", body)
        self._events_ready.set()

    def _queue(self, topic: str, event: dict[str, Any]) -> None:
        self._events.append((topic, json.dumps(event).encode()))
        if len(self._events) > MAX_PENDING_EVENTS:
            self._events.popleft()
            self.counts["dropped"] += 1

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
        """Read messages into a window of concurrent jobs; acknowledge them in arrival order."""
        order: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[bool]]] = asyncio.Queue()
        room = asyncio.Semaphore(MAX_WINDOW)
        jobs: set[asyncio.Task[bool]] = set()
        self._group = GroupCommit(self.submit, MAX_BATCH)
        reader = asyncio.create_task(self._read(client, order, room, jobs), name="mqtt-read")
        acker = asyncio.create_task(self._acknowledge(client, order, room), name="mqtt-ack")
        try:
            done, _ = await asyncio.wait({reader, acker}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a disconnect or a failed dead-letter publish ends the session
        finally:
            # whatever was not acknowledged stays at the broker and comes again (dedup keys)
            tasks: list[asyncio.Task[Any]] = [reader, acker, *jobs]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._group.close()

    async def _read(
        self,
        client: aiomqtt.Client,
        order: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[bool]]],
        room: asyncio.Semaphore,
        jobs: set[asyncio.Task[bool]],
    ) -> None:
        last: dict[str, asyncio.Task[bool]] = {}  # dedup key -> the latest job storing it
        messages = client.messages
        while True:
            await room.acquire()  # released by the acknowledgement
            message = await anext(messages)
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            job = self._start(client, topic, payload, await self._parse(topic, payload), last)
            jobs.add(job)
            job.add_done_callback(jobs.discard)
            order.put_nowait((message, job))

    async def _parse(self, topic: str, payload: bytes) -> list[Alert] | str:
        """The alerts of a payload, or why it is set aside. Whatever goes wrong while reading one
        message sets that message aside (dead letter with the reason, then acknowledged): no
        payload can end the session or come back forever. A large payload is read in a thread so
        the daemon keeps answering meanwhile."""
        try:
            if len(payload) > OFF_LOOP_BYTES:
                return await asyncio.to_thread(
                    parse_payload, payload, self.clock, self.limits, self.max_alerts
                )
            return parse_payload(payload, self.clock, self.limits, self.max_alerts)
        except BadPayload as exc:
            return str(exc)
        except Exception as exc:  # a poison message: set aside, never a broken session
            log.exception("mqtt payload could not be read", topic=topic, size=len(payload))
            return f"internal error while reading the payload: {type(exc).__name__}"

    def _start(
        self,
        client: aiomqtt.Client,
        topic: str,
        payload: bytes,
        parsed: list[Alert] | str,
        last: dict[str, asyncio.Task[bool]],
    ) -> asyncio.Task[bool]:
        """A job that stores the message (or sets it aside); True when it may be acknowledged."""
        if isinstance(parsed, str):
            return asyncio.create_task(self._set_aside(client, topic, payload, parsed))
        alerts = parsed
        keys = {alert.dedup_key for alert in alerts}
        before = {last[key] for key in keys if key in last}
        job = asyncio.create_task(self._handle(client, topic, payload, alerts, before))
        for key in keys:
            last[key] = job

        def forget(done: asyncio.Task[bool]) -> None:
            for key in keys:
                if last.get(key) is done:
                    del last[key]

        job.add_done_callback(forget)
        return job

    async def _acknowledge(
        self,
        client: aiomqtt.Client,
        order: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[bool]]],
        room: asyncio.Semaphore,
    ) -> None:
        while True:
            message, job = await order.get()
            if not await job:
                return  # asked to stop before it was stored: neither it nor any later one is acked
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
            room.release()

    async def _handle(
        self,
        client: aiomqtt.Client,
        topic: str,
        payload: bytes,
        alerts: list[Alert],
        before: set[asyncio.Task[bool]],
    ) -> bool:
        """True when the message may be acknowledged: stored, or set aside as a dead letter."""
        if before:  # an earlier message with one of these dedup keys goes first
            await asyncio.wait(before)
        try:
            return await self._store(alerts, topic)
        except _Unexpected as exc:
            await self._set_aside(client, topic, payload, str(exc))
            return True

    async def _set_aside(self, client: aiomqtt.Client, topic: str, payload: bytes, reason: str) -> bool:
        reason = reason_text(reason)
        log.warning("mqtt payload set aside", topic=topic, reason=reason, size=len(payload))
        body = dead_letter(reason, topic, payload, self.clock)
        await client.publish(f"{self.prefix}/deadletter", body, qos=1)
        self.counts["deadletter"] += 1
        if self.on_dead_letter is not None:
            await self.on_dead_letter(reason, len(payload))
        return True

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
                receipts = await self._group.submit(alerts)
            except NOT_NOW as exc:
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
        runtime.service.submit_alerts_together,
        runtime.clock,
        on_connection=lambda connected: set_mqtt_connected(runtime.metrics, connected),
        on_dead_letter=lambda reason, size: runtime.service.record_rejected("mqtt", 0, reason, size),
        limits=runtime.settings.limits,
    )
    runtime.engine.on_step(intake.on_step)
    runtime.service.intake.listeners.append(intake.on_alert)
    intake.start()
    return intake
