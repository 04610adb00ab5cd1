"""`EngineService`: the engine as the HTTP layer sees it (implements `EngineAPI`).

It translates API requests into engine calls and planner events, and builds read models. Alerts are
written to the store before anything else happens, so a 2xx to Alertmanager means the alert is
durable; a failing store raises `StoreUnavailable` and the API answers 503 so the sender retries.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.channels.inbound import DeliveryReport
from notifier.domain.alerts import Alert
from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.events import AckOnBehalf, Announce, Cancel, Close, Send
from notifier.domain.snapshot import Snapshot
from notifier.engine import views
from notifier.engine.alert_intake import AlertIntake
from notifier.engine.contract import (
    AckPageView,
    ActivationSummary,
    ActivationView,
    AlertFilter,
    AlertReceipt,
    AlertView,
    Conflict,
    NotFound,
    Rejected,
    StartRequest,
    UpdateReceipt,
    UpdateRequest,
)
from notifier.engine.core import ActivationError, Engine
from notifier.engine.responses import Responses, parse_token
from notifier.store import activation_repo, alert_store
from notifier.store.alert_store import IncidentChange
from notifier.store.db import reachable
from notifier.store.integration_keys import IntegrationKey, IntegrationKeys

log = structlog.get_logger("notifier.service")


_RESPONSE = {"ack": "confirm", "confirm": "confirm", "decline": "decline"}


class EngineService:
    def __init__(self, engine: Engine, public_base_url: str = "") -> None:
        self.engine = engine
        self.responses = Responses(engine.stepper)
        self.intake = AlertIntake(engine)
        self.public_base_url = public_base_url.rstrip("/")

    # --- alerts ----------------------------------------------------------------------------
    async def submit_alerts(self, incoming: list[Alert]) -> list[AlertReceipt]:
        return await self.intake.submit(incoming)

    async def submit_alerts_together(self, incoming: list[Alert]) -> list[AlertReceipt]:
        return await self.intake.submit_together(incoming)

    async def record_rejected(self, source: str, status: int, reason: str, size: int) -> None:
        await self.intake.record_rejected(source, status, reason, size)

    async def integration_key(self, key: str) -> IntegrationKey | None:
        return await IntegrationKeys(self.engine.db).find(key)

    async def list_alerts(self, where: AlertFilter) -> list[AlertView]:
        if where.activation_id:
            async with self.engine.db.connect() as conn:
                row = await views.load_row(conn, where.activation_id)
            if row is None:
                return []
            where = where.model_copy(update={"activation_id": row.id})
        async with self.engine.db.connect() as conn:
            return [views.alert_view(r) for r in await alert_store.list_alerts(conn, where)]

    # --- activations -----------------------------------------------------------------------
    def _invoked_by(self, person_id: str | None) -> str | None:
        """'Aline Verhoeven (ISCP Director)' for a holder of the invocation authority role."""
        if person_id is None:
            return None
        plan = self.engine.config.plan
        invocation = plan.organisation.invocation
        role = plan.role(invocation.authority_role) if invocation else None
        if role is None:
            problem = "invoked_by: the plan names no invocation authority (organisation.invocation)"
            raise Rejected(problem, (problem,))
        person = plan.person(person_id)
        if person is None or person_id not in role.holders:
            holders = ", ".join(role.holders) or "nobody"
            problem = f"invoked_by: {person_id!r} does not hold the invocation authority {role.id!r}"
            problem += f" ({holders})"
            raise Rejected(problem, (problem,))
        successor = role.holders.index(person_id)
        return f"{person.name} ({role.name}" + (f", successor {successor})" if successor else ")")

    async def start_activation(self, req: StartRequest) -> ActivationView:
        invoked_by = self._invoked_by(req.invoked_by)
        try:
            activation_id = await self.engine.activate(
                req.tree_id,
                req.kind,
                dict(req.fields),
                started_by=req.started_by,
                reason=req.reason,
                policy=req.policy_id,
                strict=True,
                invoked_by=invoked_by,
            )
        except ActivationError as exc:
            raise Rejected(str(exc), exc.problems) from exc
        found = await self.get_activation(activation_id)
        assert found is not None
        return found

    async def list_activations(self, status: str | None, limit: int) -> list[ActivationSummary]:
        async with self.engine.db.connect() as conn:
            return [views.summary(r) for r in await views.list_rows(conn, status, limit)]

    async def get_activation(self, activation_id: str) -> ActivationView | None:
        """By id or by reference code (`activation_repo.load_activation_row`)."""
        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
            if row is None:
                return None
            alerts = await alert_store.alert_counts(conn, row.id)
            resolution = await alert_store.resolution(conn, row.id)
        found = views.view(row, self._snapshot(row))
        return found.model_copy(update={"alerts": alerts, "resolution": resolution})

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
        await self.engine.handle(row.id, [AckOnBehalf(person_id=person_id, by=by, response=answer)])
        return await self._view(row.id)

    async def cancel(self, activation_id: str, by: str, reason: str) -> ActivationView:
        row = await self._require(activation_id)
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is already {row.status}")
        await self.engine.handle(row.id, [Cancel(by=by, reason=reason)])
        return await self._view(row.id)

    async def close(self, activation_id: str, by: str, message: str | None) -> ActivationView:
        row = await self._require(activation_id)
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is already {row.status}")
        await self.engine.handle(row.id, [Close(by=by, message=message)])
        return await self._view(row.id)

    async def page_again(self, activation_id: str, by: str, reason: str) -> ActivationView:
        """A coordinator pages again for the outage of a cancelled or closed activation: a new
        activation of the same tree with the same message, which its incident's alerts now join
        (the suppression ends)."""
        row = await self._require(activation_id)
        if row.status not in ("cancelled", "closed"):
            raise Conflict(f"activation {row.ref} is {row.status}: it is still paging")
        async with self.engine.db.connect() as conn:
            incident = await alert_store.incident_for_activation(conn, row.id)
        route_id = incident.route if incident is not None else None
        route = next((r for r in self.engine.config.trees.routes if r.id == route_id), None)
        why = f"paged again after {row.ref} was {row.status}" + (f": {reason}" if reason else "")
        try:
            new_id = await self.engine.activate(
                row.tree_id,
                row.kind,
                dict(row.fields),
                started_by=by,
                reason=why,
                policy=route.policy if route is not None else None,
            )
        except ActivationError as exc:
            raise Rejected(str(exc)) from exc
        if incident is not None:
            async with self.engine.stepper.transaction() as conn:
                await alert_store.update_incident(
                    conn, incident.key, self.engine.clock.now(), IncidentChange(activation_id=new_id)
                )
        return await self._view(new_id)

    async def update(self, activation_id: str, req: UpdateRequest) -> UpdateReceipt:
        """A coordinator's update, rendered per channel with the update template and queued in the
        outbox in the step's own transaction (a crash after the answer still sends it)."""
        row = await self._require(activation_id)  # an id or a reference code
        activation_id = row.id
        snapshot = self._snapshot(row)
        problems = [
            f"fields.{name}: unknown message field (known: {', '.join(CONTENT_FIELDS)})"
            for name in req.fields
            if name not in CONTENT_FIELDS
        ]
        node = req.audience.removeprefix("node:")
        if req.audience.startswith("node:") and node not in snapshot.nodes:
            problems.append(f"audience: no node {node!r} in this activation's call tree")
        if problems:
            raise Rejected("; ".join(problems), tuple(problems))
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is {row.status}")
        revised = {name: value.strip() for name, value in req.fields.items() if value.strip()}

        async def keep_fields(conn: AsyncConnection) -> None:
            if revised:
                await activation_repo.merge_fields(conn, activation_id, revised)

        event = Announce(by=req.by, message=req.text, audience=req.audience, fields=revised)
        result = await self.engine.stepper.submit(activation_id, [event], before_save=keep_fields)
        sent = sum(
            1
            for action in (result.actions if result else [])
            if isinstance(action, Send) and action.message_kind == "update"
        )
        return UpdateReceipt(activation_id=activation_id, ref=row.ref, audience=req.audience, recipients=sent)

    async def _view(self, activation_id: str) -> ActivationView:
        found = await self.get_activation(activation_id)
        if found is None:
            raise NotFound(f"no activation {activation_id!r}")
        return found

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        from notifier.reports.build import render_report

        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
            return None if row is None else await render_report(conn, row.id, fmt)

    async def plan_view(self) -> dict[str, Any]:
        return self.engine.config.plan.model_dump(mode="json")

    # --- provider webhooks -----------------------------------------------------------------
    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        return await self.responses.inbound_sms(from_, body, message_sid)

    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        await self.responses.provider_status(
            token, report.status, report.error_code, sid=report.provider_id, raw=report.detail
        )

    async def expect_webhooks(self, provider_ids: Collection[str]) -> None:
        await self.responses.prefetch(provider_ids)

    async def call_script(self, token: str) -> str | None:
        row = await self.responses.find_attempt(token)
        return None if row is None else str(row.message.get("text", ""))

    async def call_answer(self, token: str, response: str, raw: str, provider_id: str | None) -> bool:
        return await self.responses.attempt_reply(token, response, "voice", raw, sid=provider_id)

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
        database = await reachable(self.engine.db)
        return {"database": database, "dispatcher": not self.engine.dispatcher._stopping}

    def providers(self) -> dict[str, bool]:
        """Provider name -> taking messages (False while failing: messages are held and retried)."""
        return self.engine.dispatcher.providers_in_service()
