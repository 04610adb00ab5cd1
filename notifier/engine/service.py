"""`EngineService`: the engine as the HTTP layer sees it (implements `EngineAPI`).

It translates API requests into engine calls and planner events, and builds read models. Alerts are
written to the store before anything else happens, so a 2xx to Alertmanager means the alert is
durable; a failing store raises `StoreUnavailable` and the API answers 503 so the sender retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import and_, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from twilio.twiml.voice_response import VoiceResponse

from notifier.channels.inbound import DeliveryReport
from notifier.channels.twilio import status as twilio_status
from notifier.channels.twilio import voice
from notifier.domain.alerts import Alert
from notifier.domain.events import AckOnBehalf, Announce, Cancel, Close
from notifier.domain.routing import RouteDecision, route_alert
from notifier.domain.snapshot import Snapshot
from notifier.engine import views
from notifier.engine.contract import (
    AckPageView,
    ActivationSummary,
    ActivationView,
    AlertReceipt,
    Conflict,
    NotFound,
    Rejected,
    StartRequest,
    StoreUnavailable,
)
from notifier.engine.core import ActivationError, Engine, new_activation_id
from notifier.engine.responses import Responses, form_value, parse_token
from notifier.engine.stepper import Draft
from notifier.store.engine_tables import activations, alerts

log = structlog.get_logger("notifier.service")


def _goodbye(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


_RESPONSE = {"ack": "confirm", "confirm": "confirm", "decline": "decline"}


@dataclass(frozen=True)
class _Recorded:
    """An alert written in a transaction; its receipt is made once the transaction committed."""

    alert: Alert
    decision: RouteDecision | None
    draft: Draft
    started: bool
    open_id: str | None  # the open activation this alert repeats or resolves


class EngineService:
    def __init__(self, engine: Engine, public_base_url: str = "") -> None:
        self.engine = engine
        self.responses = Responses(engine.stepper)
        self.public_base_url = public_base_url.rstrip("/")

    # --- alerts ----------------------------------------------------------------------------
    async def submit_alerts(self, incoming: list[Alert]) -> list[AlertReceipt]:
        receipts: list[AlertReceipt] = []
        for alert in incoming:
            receipts += await self._stored([alert])
        return receipts

    async def submit_alerts_together(self, incoming: list[Alert]) -> list[AlertReceipt]:
        """Like `submit_alerts`, but alerts with distinct dedup keys share one transaction: a burst
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

    async def _stored(self, batch: list[Alert]) -> list[AlertReceipt]:
        try:
            return await self._submit(batch)
        except (OperationalError, DBAPIError, OSError) as exc:
            log.error("alert not stored", error=type(exc).__name__, alerts=len(batch))
            raise StoreUnavailable("the alert could not be stored; retry later") from exc

    async def _submit(self, batch: list[Alert]) -> list[AlertReceipt]:
        """Dedup, record and (if routed) start the call tree, in one transaction for the whole
        batch: the first SMS is claimed in the same commit that accepts the alert, and a crash
        keeps both or neither."""
        engine = self.engine
        routed = [self._route(alert) for alert in batch]  # compiled outside the write lock
        drafts = [Draft(new_activation_id()) for _ in batch]
        recorded: list[_Recorded] = []
        try:
            async with engine.stepper.transaction() as conn:
                for alert, (decision, snapshot), draft in zip(batch, routed, drafts, strict=True):
                    recorded.append(await self._record(conn, alert, decision, snapshot, draft))
        except BaseException:
            for draft in drafts:
                engine.discard(draft)
            raise
        for done in recorded:
            if done.started:
                engine.started(done.draft)
        return [await self._receipt(done) for done in recorded]

    def _route(self, alert: Alert) -> tuple[RouteDecision | None, Snapshot | None]:
        engine = self.engine
        config = engine.config
        decision = route_alert(alert, config.plan, config.trees)
        snapshot = None
        if decision is not None and alert.status != "resolved":
            try:
                snapshot = engine.prepare(decision.calltree, decision.kind, decision.policy)
            except ActivationError as exc:
                log.error("routed call tree cannot be activated", route=decision.route, error=str(exc))
        return decision, snapshot

    async def _record(
        self,
        conn: AsyncConnection,
        alert: Alert,
        decision: RouteDecision | None,
        snapshot: Snapshot | None,
        draft: Draft,
    ) -> _Recorded:
        """One alert inside the caller's transaction (which sees the alerts recorded before it)."""
        engine = self.engine
        now = engine.clock.now()
        started = False
        open_row = (
            await conn.execute(
                select(alerts.c.activation_id)
                .join(activations, activations.c.id == alerts.c.activation_id)
                .where(
                    and_(
                        alerts.c.dedup_key == alert.dedup_key,
                        activations.c.status.in_(["open", "completed"]),
                    )
                )
                .limit(1)
            )
        ).first()
        if alert.status == "resolved":
            outcome = "resolved" if open_row else "resolved (no open activation)"
        elif open_row:
            outcome = "duplicate"
        elif decision is None:
            outcome = "unrouted"
        elif snapshot is None:
            outcome = f"routed to {decision.calltree}, which cannot be activated"
        else:
            outcome = f"routed to {decision.calltree}"
            fields = {
                "nature": alert.summary,
                "service": decision.service_name or "",
                "response": alert.annotations.get("description", ""),
            }
            await engine.start_in(
                conn,
                draft,
                snapshot,
                decision.kind,
                fields,
                started_by=f"alert:{alert.source}",
                reason=alert.summary,
            )
            started = True
        await conn.execute(
            insert(alerts).values(
                source=alert.source,
                dedup_key=alert.dedup_key,
                status=alert.status,
                service=decision.service_id if decision else alert.labels.get("service"),
                payload=alert.model_dump(mode="json"),
                received_at=now,
                activation_id=open_row[0] if open_row else (draft.activation_id if started else None),
                outcome=outcome,
            )
        )
        return _Recorded(alert, decision, draft, started, open_row[0] if open_row else None)

    async def _receipt(self, done: _Recorded) -> AlertReceipt:
        """After the commit: a resolved alert's follow-up, and the receipt."""
        alert, decision, open_id = done.alert, done.decision, done.open_id
        if alert.status == "resolved":
            if open_id:
                await self._resolved(open_id, alert, decision.on_resolved if decision else "record")
            return AlertReceipt(dedup_key=alert.dedup_key, status="resolved", activation_id=open_id)
        if open_id:
            return AlertReceipt(dedup_key=alert.dedup_key, status="duplicate", activation_id=open_id)
        if decision is None or not done.started:
            return AlertReceipt(dedup_key=alert.dedup_key, status="unrouted")
        return AlertReceipt(
            dedup_key=alert.dedup_key,
            status="accepted",
            activation_id=done.draft.activation_id,
            route=decision.route,
        )

    async def _resolved(self, activation_id: str, alert: Alert, on_resolved: str) -> None:
        by, text = f"alert:{alert.source}", f"Resolved: {alert.summary}"
        if str(on_resolved) == "close":
            await self.engine.handle(activation_id, [Close(by=by, message=text)])
            return
        if str(on_resolved) == "announce":
            await self.engine.handle(activation_id, [Announce(by=by, message=text)])
        from notifier.engine.repo import insert_log

        async with self.engine.stepper.transaction() as conn:
            await insert_log(
                conn,
                [
                    {
                        "activation_id": activation_id,
                        "at": self.engine.clock.now(),
                        "step": "alert_resolved",
                        "who": f"alert:{alert.source}",
                        "outcome": f"monitoring reports resolved: {alert.summary}",
                        "problem": None,
                    }
                ],
            )

    # --- activations -----------------------------------------------------------------------
    async def start_activation(self, req: StartRequest) -> ActivationView:
        try:
            activation_id = await self.engine.activate(
                req.tree_id,
                req.kind,
                dict(req.fields),
                started_by=req.started_by,
                reason=req.reason,
                policy=req.policy_id,
            )
        except ActivationError as exc:
            raise Rejected(str(exc)) from exc
        found = await self.get_activation(activation_id)
        assert found is not None
        return found

    async def list_activations(self, status: str | None, limit: int) -> list[ActivationSummary]:
        async with self.engine.db.connect() as conn:
            return [views.summary(r) for r in await views.list_rows(conn, status, limit)]

    async def get_activation(self, activation_id: str) -> ActivationView | None:
        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
        if row is None:
            return None
        return views.view(row, self._snapshot(row))

    def _snapshot(self, row: Any) -> Snapshot:
        running = row.status in ("open", "completed")
        return self.engine.stepper.snapshot_of(row.id, row.snapshot, cache=running)

    async def _require(self, activation_id: str) -> Any:
        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
        if row is None:
            raise NotFound(f"no activation {activation_id!r}")
        return row

    async def acknowledge(self, activation_id: str, person_id: str, by: str, response: str) -> ActivationView:
        row = await self._require(activation_id)
        snapshot = self._snapshot(row)
        if person_id not in snapshot.people:
            raise Rejected(f"{person_id!r} is not part of activation {activation_id}")
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is {row.status}")
        answer = _RESPONSE.get(response)
        if answer is None:
            raise Rejected("response must be 'ack' or 'decline'")
        await self.engine.handle(activation_id, [AckOnBehalf(person_id=person_id, by=by, response=answer)])
        return await self._view(activation_id)

    async def cancel(self, activation_id: str, by: str, reason: str) -> ActivationView:
        row = await self._require(activation_id)
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is already {row.status}")
        await self.engine.handle(activation_id, [Cancel(by=by, reason=reason)])
        return await self._view(activation_id)

    async def close(self, activation_id: str, by: str, message: str | None) -> ActivationView:
        row = await self._require(activation_id)
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is already {row.status}")
        await self.engine.handle(activation_id, [Close(by=by, message=message)])
        return await self._view(activation_id)

    async def _view(self, activation_id: str) -> ActivationView:
        found = await self.get_activation(activation_id)
        if found is None:
            raise NotFound(f"no activation {activation_id!r}")
        return found

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        from notifier.reports.build import render_report

        async with self.engine.db.connect() as conn:
            return await render_report(conn, activation_id, fmt)

    async def plan_view(self) -> dict[str, Any]:
        return self.engine.config.plan.model_dump(mode="json")

    # --- provider webhooks -----------------------------------------------------------------
    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        return await self.responses.inbound_sms(from_, body, message_sid)

    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        await self.responses.provider_status(
            token, report.status, report.error_code, sid=report.provider_id, raw=report.detail
        )

    async def voice_twiml(self, token: str, params: dict[str, str]) -> str:
        row = await self.responses.find_attempt(token)
        urls = voice.VoiceUrls(self.public_base_url, token)
        if row is None:
            return _goodbye("This call is no longer active. Goodbye.")
        answered_by = form_value(params, "AnsweredBy")
        machine = twilio_status.machine_report(params)
        if machine is not None:
            await self.responses.provider_status(
                token, machine.status, None, sid=machine.provider_id, raw=machine.detail
            )
        repeated = form_value(params, "repeat") == "1"
        return voice.voice_document(str(row.message.get("text", "")), urls, answered_by, repeated=repeated)

    async def voice_gather(self, token: str, digits: str, params: dict[str, str]) -> str:
        row = await self.responses.find_attempt(token)
        if row is None:
            return _goodbye("This call is no longer active. Goodbye.")
        action = voice.parse_digits(digits)
        if action in (voice.KeyAction.CONFIRM, voice.KeyAction.DECLINE):
            await self.responses.attempt_reply(
                token, str(action), "voice", digits, sid=form_value(params, "CallSid")
            )
        return voice.digits_response(
            digits, str(row.message.get("text", "")), voice.VoiceUrls(self.public_base_url, token)
        )

    # --- email ack pages -------------------------------------------------------------------
    async def ack_page(self, attempt_id: str) -> AckPageView | None:
        row = await self.responses.find_attempt(attempt_id)
        attempt = parse_token(attempt_id)
        if row is None or attempt is None:
            return None
        act = await self._require(attempt.activation_id)
        snapshot = self._snapshot(act)
        person = snapshot.people.get(row.person_id)
        state_cursor = [c for c in act.state.get("cursors", {}).values() if c.get("person") == row.person_id]
        answered = next(
            (c["status"] for c in state_cursor if c.get("status") in ("acknowledged", "declined")), None
        )
        return AckPageView(
            activation_id=act.id,
            ref=act.ref,
            tree_name=snapshot.tree_name,
            kind=act.kind,
            person_name=person.name if person else row.person_id,
            summary=str(act.fields.get("nature", "") or act.reason or snapshot.tree_name),
            answered=answered,
            open=act.status == "open",
        )

    async def email_ack(self, attempt_id: str, response: str) -> str:
        answer = _RESPONSE.get(response)
        if answer is None:
            raise Rejected("response must be 'ack' or 'decline'")
        if not await self.responses.attempt_reply(attempt_id, answer, "email", response):
            raise NotFound("this link does not belong to an activation")
        return (
            "Thank you: your confirmation is recorded."
            if answer == "confirm"
            else "Thank you: we will contact your alternate."
        )

    async def ready(self) -> dict[str, bool]:
        database = True
        try:
            async with self.engine.db.connect() as conn:
                await conn.execute(select(1))
        except Exception:
            database = False
        return {"database": database, "dispatcher": not self.engine.dispatcher._stopping}
