"""A small, honest in-memory `EngineAPI` for the HTTP tests (the real engine lives in notifier.engine).

It routes alerts with the real domain router, builds activation views from the real plan fixture
(with full contact addresses, as the real engine returns them), and records every call so tests
can assert that a rejected request never reached it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from notifier.api.engine_api import (
    AckPageView,
    ActivationSummary,
    ActivationView,
    AlertFilter,
    AlertReceipt,
    AlertView,
    AttemptView,
    Conflict,
    DeliveryReport,
    NodeProgress,
    NotFound,
    PersonProgress,
    Rejected,
    StartRequest,
    StoreUnavailable,
    UpdateReceipt,
    UpdateRequest,
)
from notifier.domain.alerts import Alert
from notifier.domain.calltree import Node, TreeSet
from notifier.domain.plan import Plan
from notifier.domain.routing import route_alert

CLOSED = ("cancelled", "closed")


class MemoryEngine:
    def __init__(self, plan: Plan, trees: TreeSet, now: datetime) -> None:
        self.plan, self.trees, self.now = plan, trees, now
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.alerts: dict[str, Alert] = {}
        self.open_by_key: dict[str, str] = {}
        self.activations: dict[str, ActivationView] = {}
        self.attempts: dict[str, tuple[str, str]] = {}  # attempt id -> (activation id, person id)
        self.store_down = False
        self.rejected: list[tuple[str, int, str]] = []

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for call, args in self.calls if call == name]

    # -- alerts and activations -------------------------------------------------------------
    async def submit_alerts(self, alerts: list[Alert]) -> list[AlertReceipt]:
        self._record("submit_alerts", alerts)
        if self.store_down:
            raise StoreUnavailable("database unavailable")
        receipts = []
        for alert in alerts:
            self.alerts[alert.dedup_key] = alert
            open_id = self.open_by_key.get(alert.dedup_key)
            if alert.status == "resolved":
                receipts.append(
                    AlertReceipt(dedup_key=alert.dedup_key, status="resolved", activation_id=open_id)
                )
                continue
            if open_id is not None:
                receipts.append(
                    AlertReceipt(dedup_key=alert.dedup_key, status="duplicate", activation_id=open_id)
                )
                continue
            decision = route_alert(alert, self.plan, self.trees)
            if decision is None:
                receipts.append(AlertReceipt(dedup_key=alert.dedup_key, status="unrouted"))
                continue
            view = self._create(
                StartRequest(tree_id=decision.calltree, kind=decision.kind, started_by="alert")
            )
            self.open_by_key[alert.dedup_key] = view.id
            receipts.append(
                AlertReceipt(
                    dedup_key=alert.dedup_key, status="started", activation_id=view.id, route=decision.route
                )
            )
        return receipts

    async def record_rejected(self, source: str, status: int, reason: str, size: int) -> None:
        self.rejected.append((source, status, reason))  # apart from `calls`: nothing was done

    async def list_alerts(self, where: AlertFilter) -> list[AlertView]:
        self._record("list_alerts", where)
        return []

    async def integration_key(self, key: str) -> None:
        return None  # the PagerDuty endpoint is tested against the real engine

    async def page_again(self, activation_id: str, by: str, reason: str) -> ActivationView:
        self._record("page_again", activation_id, by, reason)
        raise Conflict("the memory engine does not page again")

    def _create(self, req: StartRequest) -> ActivationView:
        tree = self.trees.tree(req.tree_id)
        if tree is None:
            raise Rejected(f"unknown call tree {req.tree_id!r}")
        number = len(self.activations) + 1
        nodes: list[NodeProgress] = []

        def walk(node: Node, level: int) -> None:
            role = self.plan.role(node.role) if node.role else None
            people = []
            for person_id in role.holders if role else ((node.person,) if node.person else ()):
                person = self.plan.person(person_id)
                if person is None:
                    continue
                attempt_id = f"att-{number}-{person.id}"
                self.attempts[attempt_id] = (f"act-{number}", person.id)
                attempts = [
                    AttemptView(channel=c.kind.value, address=c.address, status="sent", at=self.now)
                    for c in person.contacts
                ]
                people.append(
                    PersonProgress(person=person.id, name=person.name, status="notifying", attempts=attempts)
                )
            nodes.append(
                NodeProgress(
                    key=node.key, label=node.label or node.key, status="notifying", level=level, people=people
                )
            )
            for child in node.children:
                walk(child, level + 1)

        for node in tree.nodes:
            walk(node, 0)
        view = ActivationView(
            id=f"act-{number}",
            ref=f"K{number}Q",
            tree=tree.id,
            kind=req.kind,
            status="running",
            started_at=self.now,
            started_by=req.started_by,
            reason=req.reason,
            nodes=nodes,
        )
        self.activations[view.id] = view
        return view

    async def start_activation(self, req: StartRequest) -> ActivationView:
        self._record("start_activation", req)
        return self._create(req)

    async def list_activations(self, status: str | None, limit: int) -> list[ActivationSummary]:
        self._record("list_activations", status, limit)
        views = [v for v in self.activations.values() if status is None or v.status == status]
        return [
            ActivationSummary.model_validate(v.model_dump(include=set(ActivationSummary.model_fields)))
            for v in views[:limit]
        ]

    async def get_activation(self, activation_id: str) -> ActivationView | None:
        self._record("get_activation", activation_id)
        return self.activations.get(activation_id)

    def _open(self, activation_id: str) -> ActivationView:
        view = self.activations.get(activation_id)
        if view is None:
            raise NotFound(f"no activation {activation_id!r}")
        if view.status in CLOSED:
            raise Conflict(f"activation {view.ref} is {view.status}")
        return view

    def _set_person(self, activation_id: str, person_id: str, status: str) -> ActivationView:
        view = self._open(activation_id)
        if not any(p.person == person_id for n in view.nodes for p in n.people):
            raise Rejected(f"{person_id!r} is not in activation {view.ref}")
        nodes = [
            n.model_copy(
                update={
                    "people": [
                        p.model_copy(update={"status": status}) if p.person == person_id else p
                        for p in n.people
                    ]
                }
            )
            for n in view.nodes
        ]
        self.activations[activation_id] = view = view.model_copy(update={"nodes": nodes})
        return view

    async def acknowledge(self, activation_id: str, person_id: str, by: str, response: str) -> ActivationView:
        self._record("acknowledge", activation_id, person_id, by, response)
        return self._set_person(activation_id, person_id, "acknowledged" if response == "ack" else "declined")

    async def cancel(self, activation_id: str, by: str, reason: str) -> ActivationView:
        self._record("cancel", activation_id, by, reason)
        view = self._open(activation_id).model_copy(update={"status": "cancelled", "completed_at": self.now})
        self.activations[activation_id] = view
        return view

    async def close(self, activation_id: str, by: str, message: str | None) -> ActivationView:
        self._record("close", activation_id, by, message)
        view = self._open(activation_id).model_copy(update={"status": "closed", "completed_at": self.now})
        self.activations[activation_id] = view
        return view

    async def update(self, activation_id: str, req: UpdateRequest) -> UpdateReceipt:
        self._record("update", activation_id, req)
        view = self._open(activation_id)
        return UpdateReceipt(activation_id=view.id, ref=view.ref, audience=req.audience, recipients=0)

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        self._record("report", activation_id, fmt)
        view = self.activations.get(activation_id)
        if view is None:
            return None
        lines = [f"# After-action report {view.ref}"]
        lines += [
            f"- {p.name}: {a.channel} {a.address} {a.status}"
            for n in view.nodes
            for p in n.people
            for a in p.attempts
        ]
        return "\n".join(lines).encode()

    async def plan_view(self) -> dict[str, Any]:
        self._record("plan_view")
        return self.plan.model_dump(mode="json")

    # -- provider callbacks -----------------------------------------------------------------
    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        self._record("inbound_sms", from_, to, body, message_sid)
        return "Confirmed <ref K1Q> & thanks" if body.strip() == "1" else ""

    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        self._record("delivery_report", token, report)
        if self.store_down:
            raise StoreUnavailable("database unavailable")

    async def delivery_reports(self, reports: Sequence[tuple[str, DeliveryReport]]) -> None:
        for token, report in reports:
            await self.delivery_report(token, report)

    async def expect_webhooks(self, provider_ids: Collection[str]) -> None:
        self._record("expect_webhooks", sorted(provider_ids))

    async def call_script(self, token: str) -> str | None:
        self._record("call_script", token)
        return "SEED incident." if token else None

    async def call_answer(self, token: str, response: str, raw: str, provider_id: str | None) -> bool:
        self._record("call_answer", token, response, raw, provider_id)
        return True

    async def ack_page(self, attempt_id: str) -> AckPageView | None:
        self._record("ack_page", attempt_id)
        found = self.attempts.get(attempt_id)
        if found is None:
            return None
        view = self.activations[found[0]]
        person = next(p for n in view.nodes for p in n.people if p.person == found[1])
        tree = self.trees.tree(view.tree)
        return AckPageView(
            activation_id=view.id,
            ref=view.ref,
            tree_name=tree.name if tree else view.tree,
            kind=view.kind,
            person_name=person.name,
            summary=view.reason or "Activation",
            open=view.status not in CLOSED,
            answered=None if person.status == "notifying" else person.status,
        )

    async def email_ack(self, attempt_id: str, response: str) -> str:
        self._record("email_ack", attempt_id, response)
        found = self.attempts.get(attempt_id)
        if found is None:
            raise NotFound("unknown attempt")
        self._set_person(found[0], found[1], "acknowledged" if response == "ack" else "declined")
        return "Your answer is recorded." if response == "ack" else "Noted: you cannot respond."

    async def ready(self) -> dict[str, bool]:
        return {"database": not self.store_down}

    def providers(self) -> dict[str, bool]:
        return {"twilio": True, "smtp": True}
