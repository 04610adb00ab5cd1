"""The engine's commands for the HTTP layer: start, acknowledge on behalf, cancel, close, page
again, send an update. Each checks the request against the activation and becomes planner events
applied in one step (`Engine.handle`, `Stepper.submit`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.events import AckOnBehalf, Announce, Cancel, Close, Send
from notifier.engine.contract import (
    ActivationView,
    Conflict,
    Rejected,
    StartRequest,
    UpdateReceipt,
    UpdateRequest,
)
from notifier.engine.core import ActivationError
from notifier.engine.queries import RESPONSE, Queries
from notifier.store import activation_repo, alert_store
from notifier.store.alert_store import IncidentChange


class Commands(Queries):
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

    async def acknowledge(self, activation_id: str, person_id: str, by: str, response: str) -> ActivationView:
        row = await self._require(activation_id)
        snapshot = self._snapshot(row)
        if person_id not in snapshot.people:
            raise Rejected(f"{person_id!r} is not part of activation {activation_id}")
        if row.status in ("cancelled", "closed"):
            raise Conflict(f"activation {activation_id} is {row.status}")
        answer = RESPONSE.get(response)
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
