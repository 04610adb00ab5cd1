"""The engine's read side for the HTTP layer: activations, alerts, reports, readiness.

`Queries` builds read models from the store and the frozen snapshots; it writes nothing. It is the
base of the other parts of `EngineService` (commands.py, intake_service.py), which look activations
up through it.
"""

from __future__ import annotations

from typing import Any

from notifier.domain.snapshot import Snapshot
from notifier.engine import views
from notifier.engine.contract import (
    AckPageView,
    ActivationSummary,
    ActivationView,
    AlertFilter,
    AlertView,
    NotFound,
)
from notifier.engine.core import Engine
from notifier.engine.responses import Responses, parse_token
from notifier.store import alert_store
from notifier.store.db import reachable
from notifier.store.integration_keys import IntegrationKey, IntegrationKeys

#: the answers a person can give on behalf or through an email link, by what the API accepts
RESPONSE = {"ack": "confirm", "confirm": "confirm", "decline": "decline"}


class Queries:
    def __init__(self, engine: Engine, public_base_url: str = "") -> None:
        self.engine = engine
        self.responses = Responses(engine.stepper)
        self.public_base_url = public_base_url.rstrip("/")

    async def _require(self, activation_id: str) -> Any:
        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
        if row is None:
            raise NotFound(f"no activation {activation_id!r}")
        return row

    async def _view(self, activation_id: str) -> ActivationView:
        found = await self.get_activation(activation_id)
        if found is None:
            raise NotFound(f"no activation {activation_id!r}")
        return found

    def _snapshot(self, row: Any) -> Snapshot:
        running = row.status in ("open", "completed")
        return self.engine.stepper.snapshot_of(row.id, row.snapshot, cache=running)

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

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        from notifier.reports.build import render_report

        async with self.engine.db.connect() as conn:
            row = await views.load_row(conn, activation_id)
            return None if row is None else await render_report(conn, row.id, fmt)

    async def plan_view(self) -> dict[str, Any]:
        return self.engine.config.plan.model_dump(mode="json")

    async def call_script(self, token: str) -> str | None:
        row = await self.responses.find_attempt(token)
        return None if row is None else str(row.message.get("text", ""))

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

    async def ready(self) -> dict[str, bool]:
        database = await reachable(self.engine.db)
        return {"database": database, "dispatcher": not self.engine.dispatcher._stopping}

    def providers(self) -> dict[str, bool]:
        """Provider name -> taking messages (False while failing: messages are held and retried)."""
        return self.engine.dispatcher.providers_in_service()
