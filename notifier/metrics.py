"""Prometheus metrics of one running instance, served at `/metrics`.

Why a registry per `Metrics` (not the global default): several runtimes live in one test process,
and each must count only what it did. Counters are driven by the engine's step listener: every step
hands over the activation's new state, and the difference from the previous state says which
attempts changed status and who acknowledged. Reading the state (instead of hooking each sender,
webhook and deadline) counts every path the same way, including opted-out numbers that never reach
a provider. Outbox depth and deadline lateness are read when Prometheus scrapes.

Nothing here carries personal data: labels are channels, outcomes, route templates and statuses.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select

from notifier.domain.events import Log
from notifier.domain.state import ActivationState, PersonCursor
from notifier.store.engine_tables import outbox

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from notifier.channels.failover import ProviderHealth
    from notifier.engine.alert_intake import AlertEvent
    from notifier.engine.core import Engine
    from notifier.engine.stepper import StepResult

ACK_BUCKETS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
OUTBOX_STATUSES = ("pending", "sending")

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


class Metrics:
    """The instance's metrics; `attach(engine)` starts counting, `scrape()` renders the exposition."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "notifier_messages",
            "Messages and calls by channel and by each status they reached (queued, sent, delivered, "
            "failed, no_answer, busy, machine, answered, invalid, opted_out, unknown, skipped)",
            ["channel", "outcome"],
            registry=r,
        )
        self.acknowledgements = Counter(
            "notifier_acknowledgements",
            "Answers recorded for a call-tree node, by the channel they came through",
            ["channel", "response"],
            registry=r,
        )
        self.time_to_ack = Histogram(
            "notifier_time_to_acknowledge_seconds",
            "From the first attempt to reach a person for a node to their confirmation (engine clock)",
            ["channel"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.activations = Counter(
            "notifier_activations_started", "Activations started, by kind", ["kind"], registry=r
        )
        self.outbox_depth = Gauge(
            "notifier_outbox_depth",
            "Outbox rows waiting or being sent, read at scrape",
            ["status"],
            registry=r,
        )
        self.deadline_lateness = Histogram(
            "notifier_deadline_lateness_seconds",
            "How late escalation deadlines fired after their due time (engine clock)",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.http_latency = Histogram(
            "notifier_http_request_duration_seconds",
            "HTTP handling time per route template (webhooks, API, ack pages)",
            ["route", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "notifier_mqtt_connected", "1 while the MQTT consumer is connected to the broker", registry=r
        )
        self.provider_events = Counter(
            "notifier_provider_failovers",
            "Failover events by channel and provider: failover (taken out for a cool-down), recovered "
            "(back in service), passed (one message handed to the next provider, nothing sent)",
            ["channel", "provider", "event"],
            registry=r,
        )
        self.provider_in_service = Gauge(
            "notifier_provider_in_service",
            "1 while a provider is in service, 0 during its cool-down, read at scrape",
            ["provider"],
            registry=r,
        )
        self.alerts = Counter(
            "notifier_alerts",
            "Alerts received, by intake (native, alertmanager, grafana, mqtt, pagerduty) and outcome "
            "(started, joined, duplicate, suppressed, resolved, unrouted, rejected, test)",
            ["source", "outcome"],
            registry=r,
        )
        self.mqtt_dead_letters = Counter(
            "notifier_mqtt_dead_letters",
            "MQTT messages that could not become an alert, set aside on <prefix>/deadletter",
            registry=r,
        )
        self._dead_letters_seen = 0
        self.spool_bytes = Gauge(
            "notifier_webhook_spool_bytes",
            "Twilio webhooks received while the store could not take them, waiting to be applied",
            registry=r,
        )
        self.unrecorded = Gauge(
            "notifier_send_results_unrecorded",
            "Send results kept in memory because the store could not take them, read at scrape",
            registry=r,
        )
        self.reconciled = Counter(
            "notifier_reconciled_sends",
            "Sends whose outcome was lost (crash), by what the provider said: found (recorded as "
            "sent, not resent), requeued (the provider has none: sent), unverifiable (sent again)",
            ["verdict"],
            registry=r,
        )
        self._reconciled_seen: dict[str, int] = {}
        self.spool: Any = None  # notifier.api.webhook_spool.WebhookSpool, read at scrape
        self.worker_spool: Any = None  # notifier.api.spool_applier.SpoolApplier (webhook workers)
        self.mqtt: Any = None  # notifier.intake.mqtt.MqttIntake, read at scrape
        self.sent_after_stop = Counter(
            "notifier_messages_sent_after_stop",
            "Messages withdrawn when they stopped mattering that a sender had already taken",
            ["channel"],
            registry=r,
        )
        self.engine: Engine | None = None
        self._health: ProviderHealth | None = None
        self._provider_names: list[str] = []
        _BY_REGISTRY[self.registry] = self

    # --- engine --------------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        self.engine = engine
        engine.on_step(self.observe_step)

    def attach_health(self, health: ProviderHealth | None, providers: Iterable[str]) -> None:
        self._health = health
        self._provider_names = sorted(providers)

    def provider_event(self, channel: str, provider: str, event: str) -> None:
        self.provider_events.labels(channel, provider, event).inc()

    def observe_step(self, result: StepResult) -> None:
        """Count what this step changed: O(entries written), whatever the activation's size."""
        state, before = result.state, result.before
        if before is None:
            return  # nothing to compare with: count from the next step on
        if any(isinstance(a, Log) and a.step == "activation started" for a in result.actions):
            self.activations.labels(kind=self._kind(result.activation_id)).inc()
        for attempt_id in result.changed.get("attempts", ()):
            attempt, old = state.attempts[attempt_id], before.attempts.get(attempt_id)
            if old is not None and old.status == attempt.status:
                continue
            if old is None and attempt.status != "queued":
                self.messages.labels(attempt.channel.value, "queued").inc()
            self.messages.labels(attempt.channel.value, attempt.status).inc()
            if attempt.after_stop and (old is None or not old.after_stop):
                self.sent_after_stop.labels(attempt.channel.value).inc()
        for key in result.changed.get("cursors", ()):
            cursor, old_cursor = state.cursors[key], before.cursors.get(key)
            if cursor.status not in ("acknowledged", "declined"):
                continue
            if old_cursor is not None and old_cursor.status == cursor.status:
                continue
            via = cursor.acked_via or _last_channel(state, old_cursor, cursor.node, cursor.person)
            response = "confirm" if cursor.status == "acknowledged" else "decline"
            self.acknowledgements.labels(via, response).inc()
            if response == "confirm" and cursor.acked_at is not None:
                first = cursor.first_at or _first_attempt(state, cursor.node, cursor.person)
                if first is not None:
                    self.time_to_ack.labels(via).observe(max(0.0, (cursor.acked_at - first).total_seconds()))

    def observe_alert(self, event: AlertEvent) -> None:
        """One alert's outcome (`AlertIntake.listeners`)."""
        self.alerts.labels(event.source, event.outcome).inc()

    def _kind(self, activation_id: str) -> str:
        snapshot = self.engine.stepper._snapshots.get(activation_id) if self.engine else None
        return str(snapshot.kind) if snapshot is not None else "unknown"

    async def refresh(self) -> None:
        """Scrape-time values: outbox depth from the store, deadline lateness from the waiter."""
        if self._health is not None:
            for name in self._provider_names:
                self.provider_in_service.labels(name).set(1 if self._health.in_service(name) else 0)
        if self.mqtt is not None:
            dead = int(self.mqtt.counts.get("deadletter", 0))
            if dead > self._dead_letters_seen:
                self.mqtt_dead_letters.inc(dead - self._dead_letters_seen)
                self._dead_letters_seen = dead
        if self.spool is not None or self.worker_spool is not None:
            own = self.spool.pending_bytes if self.spool is not None else 0
            workers = self.worker_spool.pending_bytes if self.worker_spool is not None else 0
            self.spool_bytes.set(own + workers)
        if self.engine is None:
            return
        dispatcher = self.engine.dispatcher
        self.unrecorded.set(dispatcher.unrecorded)
        for verdict, count in dispatcher.reconciled.items():
            seen = self._reconciled_seen.get(verdict, 0)
            if count > seen:
                self.reconciled.labels(verdict).inc(count - seen)
                self._reconciled_seen[verdict] = count
        waiter = self.engine.waiter
        late, waiter.lateness[:] = list(waiter.lateness), []
        for seconds in late:
            self.deadline_lateness.observe(max(0.0, seconds))
        async with self.engine.db.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.status, func.count())
                .where(outbox.c.status.in_(OUTBOX_STATUSES))
                .group_by(outbox.c.status)
            )
            depth = {status: int(count) for status, count in rows}
        for status in OUTBOX_STATUSES:
            self.outbox_depth.labels(status).set(depth.get(status, 0))

    async def scrape(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)

    # --- HTTP ----------------------------------------------------------------------------------
    def install(self, app: FastAPI) -> None:
        """Add `GET /metrics` and the latency middleware to `app`; keeps `app.state.metrics`."""
        from fastapi import Response

        app.state.metrics = self

        async def metrics_endpoint() -> Response:
            return Response(await self.scrape(), media_type=CONTENT_TYPE_LATEST)

        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
        app.add_middleware(_LatencyMiddleware, metrics=self)


def set_mqtt_connected(target: Metrics | CollectorRegistry | None, connected: bool) -> None:
    """For the MQTT consumer: report (dis)connection. Accepts the `Metrics` or its registry."""
    metrics = target if isinstance(target, Metrics) else _BY_REGISTRY.get(target) if target else None
    if metrics is not None:
        metrics.mqtt_connected.set(1 if connected else 0)


def mqtt_connected(target: Metrics | None) -> bool:
    return target is not None and target.mqtt_connected._value.get() >= 1


def _last_channel(state: ActivationState, before: PersonCursor | None, node: str, person: str) -> str:
    """A decline does not record its channel on the cursor: the attempt it answered tells it."""
    answered = state.attempts.get(before.attempt or "") if before is not None else None
    if answered is not None:
        return answered.channel.value
    attempts = [a for a in state.attempts.values() if a.node == node and a.person == person]
    return max(attempts, key=lambda a: a.started_at).channel.value if attempts else "unknown"


def _first_attempt(state: ActivationState, node: str, person: str) -> datetime | None:
    times = [a.started_at for a in state.attempts.values() if a.node == node and a.person == person]
    return min(times) if times else None


class _LatencyMiddleware:
    """Pure ASGI middleware (no body buffering): time per route template, never per raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template != "/metrics":
                self.metrics.http_latency.labels(
                    template, scope.get("method", "?"), str(status["code"])
                ).observe(time.perf_counter() - started)
