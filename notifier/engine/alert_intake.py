"""Alert intake: every alert is stored with its outcome before we answer, and one outage pages once.

For each alert, in one transaction: route it (`routing.py`), lock its incident (`alert_store.py`),
decide its outcome from what is known about the incident (`correlation.py`), start the activation
when the outcome is `started`, record joined/suppressed/resolved alerts on their activation's
activity log, and store the alert row. After the commit: the route's `on_resolved` when the last
alert of an incident resolved, a join update (route `on_join: update`), and the listeners (metrics,
MQTT events). A failing store raises `StoreUnavailable` (the API answers 503, senders retry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain import correlation
from notifier.domain.alerts import Alert, is_grafana_test
from notifier.domain.calltree import Invoke, OnJoin, OnResolved
from notifier.domain.correlation import Verdict
from notifier.domain.events import Announce, Close, Event, StandDown
from notifier.domain.refusals import RefusalSampler
from notifier.domain.routing import RouteDecision, key_rules, route_alert
from notifier.domain.snapshot import Snapshot
from notifier.engine.contract import AlertReceipt, StoreUnavailable
from notifier.engine.core import ActivationError, Engine
from notifier.engine.stepper import Unit
from notifier.store import alert_store
from notifier.store.activation_repo import insert_log
from notifier.store.alert_store import IncidentChange

log = structlog.get_logger("notifier.alerts")

_ON_ACTIVATION = ("joined", "suppressed", "resolved", "acknowledged")
#: refused requests logged and stored per source and status and minute; the rest only counted
KEPT_PER_MINUTE = 10
#: for a resolve whose route is gone from the configuration: recorded, nothing else
_RECORD_ONLY = correlation.KeyRules(
    group_window=timedelta(hours=1),
    quiet_period=None,
    on_join=OnJoin.RECORD,
    update_interval=timedelta(minutes=15),
    on_resolved=OnResolved.RECORD,
)


@dataclass(frozen=True)
class AlertEvent:
    """One alert's outcome, for listeners (metrics, MQTT events). No personal data."""

    alert_id: int
    source: str
    outcome: str
    activation_id: str | None
    incident_key: str | None
    summary: str
    detail: str


@dataclass(frozen=True)
class _Recorded:
    alert: Alert
    alert_id: int
    decision: RouteDecision | None
    verdict: Verdict
    incident_key: str | None
    activation_id: str | None
    started: bool


class AlertIntake:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.listeners: list[Callable[[AlertEvent], None]] = []
        self.refusals = RefusalSampler(keep=KEPT_PER_MINUTE, window=timedelta(minutes=1))

    async def submit(self, incoming: list[Alert]) -> list[AlertReceipt]:
        receipts: list[AlertReceipt] = []
        for alert in incoming:
            receipts += await self._stored([alert])
        return receipts

    async def submit_together(self, incoming: list[Alert]) -> list[AlertReceipt]:
        """Like `submit`, but alerts with distinct dedup keys share one transaction: a burst
        costs one commit, not one per alert (the MQTT intake stores what has piled up this way).

        All of it is stored or none (StoreUnavailable), so a retry never records anything twice;
        except that a dedup key seen earlier in `incoming` starts a new transaction, after the
        earlier one's follow-ups, as one at a time would (a `firing` after a `resolved` of the same
        key must find the activation closed): callers wanting all-or-nothing pass distinct keys.
        """
        receipts: list[AlertReceipt] = []
        batch: list[Alert] = []
        for alert in incoming:
            if any(alert.dedup_key == earlier.dedup_key for earlier in batch):
                receipts += await self._stored(batch)
                batch = []
            batch.append(alert)
        if batch:
            receipts += await self._stored(batch)
        return receipts

    async def record_rejected(self, source: str, status: int, reason: str, size: int) -> None:
        """A refused request (401, 403, 413, 422, ...; status 0: an MQTT payload set aside as a
        dead letter): counted, and logged and stored unless more than `KEPT_PER_MINUTE` of its
        source and status came this minute (a flood without a token must not grow the store or
        the log: the next one kept says how many were not); never raises."""
        now = self.engine.clock.now()
        detail = (f"HTTP {status}: {reason}" if status else f"set aside (dead letter): {reason}")[:1000]
        kept = self.refusals.admit(source, status, now)
        if kept is None:
            self._tell(AlertEvent(0, source, "rejected", None, None, "", detail))
            return
        detail = (detail[: 1000 - 80] + kept.note()) if kept.skipped else detail
        if status:
            log.warning(
                "alert request rejected", source=source, status=status, reason=reason[:1000] + kept.note()
            )
        try:
            async with self.engine.stepper.transaction() as conn:
                alert_id = await alert_store.insert_alert(
                    conn,
                    {
                        "source": source[:16],
                        "dedup_key": "",
                        "status": "rejected",
                        "service": None,
                        "payload": {"http_status": status, "bytes": size},
                        "received_at": now,
                        "activation_id": None,
                        "outcome": "rejected",
                        "detail": detail,
                    },
                )
        except (OperationalError, DBAPIError, OSError) as exc:
            log.error("rejected request not stored", error=type(exc).__name__)
            alert_id = 0
        self._tell(AlertEvent(alert_id, source, "rejected", None, None, "", detail))

    # --- one transaction -------------------------------------------------------------------
    async def _stored(self, batch: list[Alert]) -> list[AlertReceipt]:
        try:
            return await self._submit(batch)
        except (OperationalError, DBAPIError, OSError) as exc:
            log.error("alert not stored", error=type(exc).__name__, alerts=len(batch))
            raise StoreUnavailable("the alert could not be stored; retry later") from exc

    async def _submit(self, batch: list[Alert]) -> list[AlertReceipt]:
        engine = self.engine
        routed = [self._route(alert) for alert in batch]  # compiled outside the write lock
        recorded: list[_Recorded] = []
        async with engine.stepper.unit() as unit:
            for alert, (decision, snapshot) in zip(batch, routed, strict=True):
                recorded.append(await self._record(unit, alert, decision, snapshot))
        return [await self._follow_up(done) for done in recorded]

    def _route(self, alert: Alert) -> tuple[RouteDecision | None, Snapshot | None]:
        config = self.engine.config
        if is_grafana_test(alert):
            return None, None
        decision = route_alert(alert, config.plan, config.trees)
        snapshot = None
        if decision is not None and alert.status == "firing":
            try:
                # invoke: ask -> the plan's invocation authority is asked; a "1" starts the tree
                engine = self.engine
                prepare = engine.prepare_question if decision.invoke is Invoke.ASK else engine.prepare
                snapshot = prepare(decision.calltree, decision.kind, decision.policy)
            except ActivationError as exc:
                log.error("routed call tree cannot be activated", route=decision.route, error=str(exc))
        return decision, snapshot

    async def _verdict(
        self, conn: AsyncConnection, alert: Alert, decision: RouteDecision | None
    ) -> tuple[Verdict, str | None]:
        """The alert's outcome and incident key; writes what the incident learns from it."""
        now = self.engine.clock.now()
        if is_grafana_test(alert):
            return Verdict("test", "Grafana test notification: the integration works; nobody was paged"), None
        if alert.status == "acknowledged":
            key = await alert_store.firing_incident_of(conn, alert.dedup_key)
            if key is None:
                return correlation.acknowledged(None), None
            incident = await alert_store.lock_incident(conn, key, "", now)
            return correlation.acknowledged(await alert_store.facts(conn, incident, alert.dedup_key)), key
        if alert.status == "resolved":
            key = await alert_store.firing_incident_of(conn, alert.dedup_key)
            key = key or (decision.incident_key if decision else None)
            if key is None:
                return correlation.resolved(None, _RECORD_ONLY), None
            incident = await alert_store.lock_incident(conn, key, decision.route if decision else "", now)
            facts = await alert_store.facts(conn, incident, alert.dedup_key)
            rules = self._rules(incident.route, decision)
            verdict = correlation.resolved(facts, rules)
            if facts.this_firing:
                await alert_store.mark_alert(conn, key, alert.dedup_key, False, now)
                if facts.others_firing == 0:
                    await alert_store.update_incident(conn, key, now, IncidentChange(resolved_at=now))
            return verdict, key
        if decision is None:
            return Verdict("unrouted", "no route matches this alert: nobody was paged"), None
        key = decision.incident_key
        incident, new = await alert_store.open_incident(conn, key, decision.route, now)
        facts = alert_store.NEW_INCIDENT if new else await alert_store.facts(conn, incident, alert.dedup_key)
        verdict = correlation.firing(facts, decision.rules, now)
        await alert_store.mark_alert(conn, key, alert.dedup_key, True, now)
        if not new or verdict.update:  # a new row has no resolved_at and was written at `now`
            change = IncidentChange(clear_resolved=True, last_update_at=now if verdict.update else None)
            await alert_store.update_incident(conn, key, now, change)
        return verdict, key

    def _rules(self, route_id: str, decision: RouteDecision | None) -> correlation.KeyRules:
        if decision is not None and decision.route == route_id:
            return decision.rules
        route = next((r for r in self.engine.config.trees.routes if r.id == route_id), None)
        return key_rules(route) if route is not None else _RECORD_ONLY

    async def _record(
        self, unit: Unit, alert: Alert, decision: RouteDecision | None, snapshot: Snapshot | None
    ) -> _Recorded:
        """One alert inside the caller's unit of work (which sees the alerts recorded before it)."""
        engine = self.engine
        conn = unit.conn
        now = engine.clock.now()
        verdict, key = await self._verdict(conn, alert, decision)
        activation_id = verdict.activation_id
        if verdict.start and decision is not None:
            if snapshot is None:
                verdict = Verdict(
                    "unrouted", f"routed to {decision.calltree}, which cannot be activated: nobody was paged"
                )
            else:
                fields = {
                    "nature": alert.summary,
                    "service": decision.service_name or "",
                    "response": alert.annotations.get("description", ""),
                }
                activation_id = await engine.start_in(
                    unit,
                    snapshot,
                    decision.kind,
                    fields,
                    started_by=f"alert:{alert.source}",
                    reason=alert.summary,
                )
                assert key is not None
                await alert_store.update_incident(conn, key, now, IncidentChange(activation_id=activation_id))
        alert_id = await alert_store.insert_alert(
            conn,
            {
                "source": alert.source,
                "dedup_key": alert.dedup_key,
                "status": alert.status,
                "service": decision.service_id if decision else alert.labels.get("service"),
                "payload": alert.model_dump(mode="json"),
                "received_at": now,
                "activation_id": activation_id,
                "outcome": verdict.outcome,
                "detail": verdict.detail,
                "route": decision.route if decision else None,
                "incident_key": key,
                "severity": (alert.severity or "")[:32] or None,
            },
        )
        if activation_id and verdict.outcome in _ON_ACTIVATION:
            await insert_log(
                conn,
                [
                    {
                        "activation_id": activation_id,
                        "at": now,
                        "step": f"alert {verdict.outcome}",
                        "who": f"alert:{alert.source}",
                        "outcome": f"{alert.summary} ({verdict.detail})",
                        "problem": None,
                    }
                ],
            )
        started = verdict.start and verdict.outcome == "started"
        return _Recorded(alert, alert_id, decision, verdict, key, activation_id, started)

    # --- after the commit ------------------------------------------------------------------
    async def _follow_up(self, done: _Recorded) -> AlertReceipt:
        alert, verdict, activation_id = done.alert, done.verdict, done.activation_id
        by = f"alert:{alert.source}"
        events: list[Event] = []
        if verdict.apply is OnResolved.CLOSE:
            events = [Close(by=by, message=f"Resolved: {alert.summary}")]
        elif verdict.apply is OnResolved.ANNOUNCE:
            events = [Announce(by=by, message=f"Resolved: {alert.summary}", coordinator=True)]
        elif verdict.apply is OnResolved.STAND_DOWN:
            events = [StandDown(by=by, message=f"Resolved: {alert.summary}")]
        elif verdict.update:
            events = [Announce(by=by, message=f"Also: {alert.summary}")]
        if events and activation_id:
            await self.engine.handle(activation_id, events)
        level = log.warning if verdict.outcome in ("unrouted", "suppressed") else log.info
        level(
            "alert " + verdict.outcome,
            source=alert.source,
            service=alert.service,
            severity=alert.severity,
            dedup_key=alert.dedup_key[:80],
            activation_id=activation_id,
            detail=verdict.detail,
        )
        self._tell(
            AlertEvent(
                done.alert_id,
                alert.source,
                verdict.outcome,
                activation_id,
                done.incident_key,
                alert.summary,
                verdict.detail,
            )
        )
        return AlertReceipt(
            dedup_key=alert.dedup_key,
            status=verdict.outcome,
            activation_id=activation_id,
            route=done.decision.route if done.decision else None,
            incident_key=done.incident_key,
            detail=verdict.detail,
        )

    def _tell(self, event: AlertEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener never fails the intake
                log.exception("alert listener failed")
