"""What the engine gives the outside world: read models of activations and the errors it raises.

They live in the engine layer because the engine builds them; the HTTP layer (`notifier.api`) and
the CLI only consume them. `notifier.api.engine_api.EngineAPI` is the protocol over these types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from notifier.domain.calltree import ActivationKind
from notifier.domain.content import CONTENT_FIELDS


class EngineError(Exception):
    """Base of the errors the engine reports to the API; the message is shown to the caller, and
    `problems` (one line each, starting with a field path) are listed when there are several."""

    def __init__(self, message: str = "", problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


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
    status: Literal[
        "started", "joined", "duplicate", "suppressed", "resolved", "acknowledged", "unrouted", "test"
    ] = Field(
        description="the alert's outcome, stored with it: started (a new activation: a page), joined "
        "(recorded on the open activation of its incident), duplicate (the same alert again), "
        "suppressed (its incident was cancelled or closed by a person while it fires: not paged), "
        "resolved, acknowledged (by the monitoring source, PagerDuty events), unrouted (no route matched: "
        "nobody was paged), test (Grafana's test notification)"
    )
    activation_id: str | None = None
    route: str | None = None
    incident_key: str | None = None
    detail: str = ""


class AlertFilter(_View):
    """Which stored alerts to list (all given conditions hold)."""

    source: str | None = None
    outcome: str | None = None
    service: str | None = None
    activation_id: str | None = Field(None, description="an activation id or reference code")
    incident_key: str | None = None
    since: datetime | None = None
    limit: int = Field(100, ge=1, le=1000)


class AlertView(_View):
    """One stored alert and what became of it."""

    id: int
    received_at: datetime
    source: str
    status: str = Field(description="firing, resolved, or rejected (the request was refused)")
    outcome: str
    detail: str = ""
    service: str | None = None
    severity: str | None = None
    summary: str = ""
    dedup_key: str = ""
    route: str | None = None
    incident_key: str | None = None
    activation_id: str | None = None
    ref: str | None = None


class StartRequest(_View):
    tree_id: str
    kind: ActivationKind = ActivationKind.INCIDENT
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="message content (NIST SP 800-34 §4.2.2): " + ", ".join(CONTENT_FIELDS),
    )
    started_by: str
    reason: str = ""
    policy_id: str | None = None
    invoked_by: str | None = Field(
        None, description="person id of the invocation authority (or successor) who decided to invoke"
    )


class UpdateRequest(_View):
    text: str
    audience: str = "reached"
    fields: dict[str, str] = Field(default_factory=dict)
    by: str


class UpdateReceipt(_View):
    """An update accepted: its messages are in the outbox (sent by the dispatcher, crash-safe)."""

    activation_id: str
    ref: str
    audience: str
    recipients: int = Field(description="messages queued for this update")


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
    invoked_by: str | None = Field(None, description="who invoked the plan, and in which role")
    nodes: list[NodeProgress] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    alerts: dict[str, int] = Field(
        default_factory=dict,
        description="alerts recorded on this activation by outcome (started, joined, duplicate, "
        "suppressed, resolved), and `firing`: how many alerts of its incident still fire",
    )
    resolution: str | None = Field(
        None, description="what happened when every alert of its incident resolved (activity log)"
    )


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
