"""What the planner is told (events) and what it asks the engine to do (actions).

Both are plain frozen pydantic models with a `type` tag so the engine can store them as JSON (an
action becomes an outbox row, a deadline row or an activity-log row) and read them back with
`EVENT_ADAPTER` / `ACTION_ADAPTER`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from notifier.domain.calltree import CompletionRule
from notifier.domain.plan import ChannelKind, Model

# --- events -------------------------------------------------------------------------------------


class Start(Model):
    type: Literal["start"] = "start"


class AttemptOutcome(Model):
    """The provider's answer to the send request itself (its HTTP or SMTP reply), channel-neutral.

    `not_sent`: the provider certainly did not take it (refused connection, rate limited, a 5xx it
    documents as not created); the dispatcher has put it back in the queue to retry.
    """

    type: Literal["attempt_outcome"] = "attempt_outcome"
    attempt_id: str
    outcome: Literal["accepted", "invalid", "opted_out", "failed", "unknown", "not_sent"]
    error_code: str | None = None
    #: when the provider created it, if known: a lookup found a message whose send's answer was
    #: lost or unknown (a send's own answer leaves it None: it was taken just now)
    taken_at: datetime | None = None


#: what a provider reports later about a message or call, in words of no provider (each provider's
#: package translates its own): still under way (`sent`), `delivered`, `answered` by a person,
#: `machine` (voicemail or fax), `busy`, `no_answer`, `failed` (this try), `failed_permanent` (the
#: address can never work) or `opted_out` (the person unsubscribed this number)
DeliveryStatus = Literal[
    "sent", "delivered", "answered", "machine", "busy", "no_answer", "failed", "failed_permanent", "opted_out"
]


class ProviderFailing(Model):
    """The dispatcher finds a provider failing (sends it certainly did not take, in a row); `channels`
    are every channel that provider carries (a failing Twilio takes down SMS and voice together)."""

    type: Literal["provider_failing"] = "provider_failing"
    #: names one outage (provider and when it began): the same outage reported again is one outage
    outage: str
    channels: tuple[ChannelKind, ...]
    detail: str = ""


class ProviderStatus(Model):
    """A later delivery report of a message or call, channel-neutral (see `DeliveryStatus`)."""

    type: Literal["provider_status"] = "provider_status"
    attempt_id: str
    status: DeliveryStatus
    error_code: str | None = None  # the provider's own code, opaque: kept for the report


class Reply(Model):
    type: Literal["reply"] = "reply"
    person_id: str
    response: Literal["confirm", "decline"]
    channel: ChannelKind
    attempt_id: str | None = None


class AckOnBehalf(Model):
    """A coordinator records an answer they got another way (a phone call, in person)."""

    type: Literal["ack_on_behalf"] = "ack_on_behalf"
    person_id: str
    by: str
    response: Literal["confirm", "decline"] = "confirm"


class DeadlineDue(Model):
    type: Literal["deadline_due"] = "deadline_due"
    key: str
    fence: int


class Cancel(Model):
    type: Literal["cancel"] = "cancel"
    by: str
    reason: str = ""


class Close(Model):
    type: Literal["close"] = "close"
    by: str
    message: str | None = None


AUDIENCE_PATTERN = r"^(reached|pending|all|node:.+)$"


class Announce(Model):
    """An update: a coordinator's (revised estimate, new convene point, free text) or monitoring's
    ("resolved"). `audience`: `reached` (everyone a message reached), `pending` (everyone being tried
    who has not answered), `all` (both), or `node:<key>` (either, in that node's subtree).
    `fields` are revised message fields (e.g. `outage_estimate`), shown in this update. With
    `coordinator`, the tree's coordinator is told as well even if not reached."""

    type: Literal["announce"] = "announce"
    by: str
    message: str
    audience: str = Field("reached", pattern=AUDIENCE_PATTERN)
    fields: dict[str, str] = Field(default_factory=dict)
    coordinator: bool = False


class StandDown(Model):
    """Monitoring reports recovery: stop escalating to nodes not yet reached and tell the
    coordinator and everyone reached; the activation stays open until a person closes it."""

    type: Literal["stand_down"] = "stand_down"
    by: str
    message: str


Event = Annotated[
    Start
    | AttemptOutcome
    | ProviderStatus
    | ProviderFailing
    | Reply
    | AckOnBehalf
    | DeadlineDue
    | Cancel
    | Close
    | Announce
    | StandDown,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# --- actions ------------------------------------------------------------------------------------

MessageKind = Literal[
    "activation",
    "update",
    "drill",
    "deactivation",
    "unreachable_notice",
    "completed_notice",
    "stand_down",
    "invocation",
    "decision_notice",
]


class Send(Model):
    type: Literal["send"] = "send"
    attempt_id: str
    person_id: str
    node_key: str
    channel: ChannelKind
    address: str
    message_kind: MessageKind
    extra: dict[str, str] = Field(default_factory=dict)
    validity_period_s: int | None = None


class Schedule(Model):
    """Create or replace the deadline row `key` (one per key)."""

    type: Literal["schedule"] = "schedule"
    key: str
    due_at: datetime
    fence: int


class Unschedule(Model):
    type: Literal["unschedule"] = "unschedule"
    key: str


class Withdraw(Model):
    """Take the attempt's message out of the queue if no sender has it yet (it stopped mattering)."""

    type: Literal["withdraw"] = "withdraw"
    attempt_id: str


class Log(Model):
    """One row of the NIST activity log: the step, by or about whom, its outcome, any problem."""

    type: Literal["log"] = "log"
    step: str
    who: str | None
    outcome: str
    problem: str | None = None


class Completed(Model):
    type: Literal["completed"] = "completed"
    rule: CompletionRule
    at: datetime


class TimeLimitPassed(Model):
    type: Literal["time_limit_passed"] = "time_limit_passed"
    at: datetime


Action = Annotated[
    Send | Schedule | Unschedule | Withdraw | Log | Completed | TimeLimitPassed,
    Field(discriminator="type"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
