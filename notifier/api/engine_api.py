"""The contract between the HTTP layer and the engine.

The API never touches the database or the planner directly: it authenticates, validates, masks and
translates, and calls an `EngineAPI`. The engine implements this Protocol; the tests use a small
in-memory implementation. Views are returned *unmasked*: the API decides what each role may see.

Errors the engine raises and what the API answers:
`StoreUnavailable` -> 503 (Alertmanager and Twilio retry 5xx), `NotFound` -> 404,
`Conflict` -> 409 (e.g. closing a cancelled activation), `Rejected` -> 422 (e.g. unknown tree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from notifier.domain.alerts import Alert
from notifier.domain.calltree import ActivationKind


class EngineError(Exception):
    """Base of the errors the engine reports to the API; the message is shown to the caller."""


class StoreUnavailable(EngineError):
    """The database could not be written; nothing was accepted. Answer 503 so the sender retries."""


class NotFound(EngineError):
    pass


class Conflict(EngineError):
    pass


class Rejected(EngineError):
    """The request is well-formed but cannot be done (unknown tree, unknown person...)."""


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class AlertReceipt(_View):
    dedup_key: str
    status: Literal["accepted", "duplicate", "resolved", "unrouted"] = Field(
        description="accepted: stored and routed; duplicate: an open activation has it; "
        "resolved: a firing alert was resolved; unrouted: stored, no route matched"
    )
    activation_id: str | None = None
    route: str | None = None


class StartRequest(_View):
    tree_id: str
    kind: ActivationKind = ActivationKind.INCIDENT
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="message content NIST asks for: nature, outage_estimate, response, "
        "convene_where, convene_when, relocation, instructions",
    )
    started_by: str
    reason: str = ""
    policy_id: str | None = None


class AttemptView(_View):
    channel: str
    address: str
    status: str
    at: datetime | None = None


class PersonProgress(_View):
    person: str
    name: str
    status: str
    attempts: list[AttemptView] = Field(default_factory=list)


class NodeProgress(_View):
    key: str
    label: str
    status: str
    level: int
    people: list[PersonProgress] = Field(default_factory=list)


class ActivationSummary(_View):
    id: str
    ref: str
    tree: str
    kind: ActivationKind
    status: str
    started_at: datetime
    started_by: str
    completed_at: datetime | None = None


class ActivationView(ActivationSummary):
    reason: str = ""
    nodes: list[NodeProgress] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


class AckPageView(_View):
    """What an email ack page shows: enough to know what is asked, no contact data."""

    activation_id: str
    ref: str
    tree_name: str
    kind: ActivationKind
    person_name: str
    summary: str
    answered: str | None = Field(None, description="the answer already recorded, if any")
    open: bool = True


class EngineAPI(Protocol):
    async def submit_alerts(self, alerts: list[Alert]) -> list[AlertReceipt]:
        """Store (durably, before returning), dedup and route; raise StoreUnavailable if not stored."""
        ...

    async def start_activation(self, req: StartRequest) -> ActivationView: ...

    async def list_activations(self, status: str | None, limit: int) -> list[ActivationSummary]: ...

    async def get_activation(self, activation_id: str) -> ActivationView | None: ...

    async def acknowledge(self, activation_id: str, person_id: str, by: str, response: str) -> ActivationView:
        """Record `response` ("ack" or "decline") for `person_id`, entered by `by` on their behalf."""
        ...

    async def cancel(self, activation_id: str, by: str, reason: str) -> ActivationView: ...

    async def close(self, activation_id: str, by: str, message: str | None) -> ActivationView: ...

    async def report(self, activation_id: str, fmt: str) -> bytes | None:
        """The after-action report in `fmt` (md, html, csv, json); None when the activation is unknown."""
        ...

    async def plan_view(self) -> dict[str, Any]:
        """The current plan as JSON-ready data, unmasked."""
        ...

    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        """Handle a staff reply; return the reply text ('' = no reply)."""
        ...

    async def message_status(self, token: str, params: dict[str, str]) -> None: ...

    async def voice_twiml(self, token: str, params: dict[str, str]) -> str: ...

    async def voice_gather(self, token: str, digits: str, params: dict[str, str]) -> str: ...

    async def call_status(self, token: str, params: dict[str, str]) -> None: ...

    async def ack_page(self, attempt_id: str) -> AckPageView | None:
        """What the email ack page for this attempt shows; None when the attempt is unknown."""
        ...

    async def email_ack(self, attempt_id: str, response: str) -> str:
        """Record an email-link answer ("ack" or "decline"); return a short confirmation text."""
        ...

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency (database, dispatcher, ...); all true means ready."""
        ...
