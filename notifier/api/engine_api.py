"""The contract between the HTTP layer and the engine.

The API never touches the database or the planner directly: it authenticates, validates, masks and
translates, and calls an `EngineAPI`. The engine implements this Protocol; the tests use a small
in-memory implementation. Views are returned *unmasked*: the API decides what each role may see.

Activations are named by id or by reference code wherever an id is taken.

Errors the engine raises and what the API answers:
`StoreUnavailable` -> 503 (Alertmanager and Twilio retry 5xx), `NotFound` -> 404,
`Conflict` -> 409 (e.g. closing a cancelled activation), `Rejected` -> 422 (e.g. unknown tree).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from notifier.channels.inbound import DeliveryReport
from notifier.domain.alerts import Alert
from notifier.engine.contract import (
    AckPageView,
    ActivationSummary,
    ActivationView,
    AlertFilter,
    AlertReceipt,
    AlertView,
    AttemptView,
    Conflict,
    EngineError,
    NodeProgress,
    NotFound,
    PersonProgress,
    Rejected,
    StartRequest,
    StoreUnavailable,
    UpdateReceipt,
    UpdateRequest,
)
from notifier.store.integration_keys import IntegrationKey

__all__ = [
    "AckPageView",
    "ActivationSummary",
    "ActivationView",
    "AlertFilter",
    "AlertReceipt",
    "AlertView",
    "AttemptView",
    "Conflict",
    "DeliveryReport",
    "EngineAPI",
    "EngineError",
    "NodeProgress",
    "NotFound",
    "PersonProgress",
    "Rejected",
    "StartRequest",
    "StoreUnavailable",
    "UpdateReceipt",
    "UpdateRequest",
]


class EngineAPI(Protocol):
    async def submit_alerts(self, alerts: list[Alert]) -> list[AlertReceipt]:
        """Store (durably, before returning), dedup and route; raise StoreUnavailable if not stored."""
        ...

    async def record_rejected(self, source: str, status: int, reason: str, size: int) -> None:
        """Store and count a refused alert request (never raises)."""
        ...

    async def list_alerts(self, where: AlertFilter) -> list[AlertView]:
        """Stored alerts with their outcome, newest first."""
        ...

    async def integration_key(self, key: str) -> IntegrationKey | None:
        """The active integration key (PagerDuty routing_key) `key`, or None."""
        ...

    async def page_again(self, activation_id: str, by: str, reason: str) -> ActivationView:
        """A new activation for the outage of a cancelled or closed one (Conflict if still open)."""
        ...

    async def start_activation(self, req: StartRequest) -> ActivationView: ...

    async def list_activations(self, status: str | None, limit: int) -> list[ActivationSummary]: ...

    async def get_activation(self, activation_id: str) -> ActivationView | None: ...

    async def acknowledge(self, activation_id: str, person_id: str, by: str, response: str) -> ActivationView:
        """Record `response` ("ack" or "decline") for `person_id`, entered by `by` on their behalf."""
        ...

    async def cancel(self, activation_id: str, by: str, reason: str) -> ActivationView: ...

    async def close(self, activation_id: str, by: str, message: str | None) -> ActivationView: ...

    async def update(self, activation_id: str, req: UpdateRequest) -> UpdateReceipt:
        """Queue an update to `req.audience`; Rejected for unknown fields or nodes, Conflict if closed."""
        ...

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        """The after-action report in `fmt` (md, html, csv, json); None when the activation is unknown."""
        ...

    async def plan_view(self) -> dict[str, Any]:
        """The current plan as JSON-ready data, unmasked."""
        ...

    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        """Handle a staff reply; return the reply text ('' = no reply)."""
        ...

    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        """A provider's delivery report, already in channel-neutral words (the inbound port)."""
        ...

    async def delivery_reports(self, reports: Sequence[tuple[str, DeliveryReport]]) -> None:
        """Several delivery reports (callback token, report) at once, each applied once as by
        `delivery_report`: a batch of spooled status callbacks, one step per activation."""
        ...

    async def call_script(self, token: str) -> str | None:
        """What a call for this attempt reads out; None when the token names no attempt."""
        ...

    async def expect_webhooks(self, provider_ids: Collection[str]) -> None:
        """A batch of spooled webhooks with these provider ids (SIDs) is about to be applied: read
        which were applied before in one go (each is still applied once)."""
        ...

    async def call_answer(self, token: str, response: str, raw: str, provider_id: str | None) -> bool:
        """A keypress answer ("confirm" or "decline") on a call; applied once per provider id and
        keys; False when the token names no attempt."""
        ...

    async def ack_page(self, attempt_id: str) -> AckPageView | None:
        """What the email ack page for this attempt shows; None when the attempt is unknown."""
        ...

    async def email_ack(self, attempt_id: str, response: str) -> str:
        """Record an email-link answer ("ack" or "decline"); return a short confirmation text."""
        ...

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency (database, dispatcher, ...); all true means ready."""
        ...

    def providers(self) -> dict[str, bool]:
        """Each message provider: taking messages (True) or failing (False, its messages held)."""
        ...
