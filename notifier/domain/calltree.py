"""Call trees, escalation policies and alert routes (the files in `calltrees/`).

A call tree says who is told, in which order. An escalation policy says how hard we try to reach
one person (method order, waits, rounds) and what happens when a role cannot be reached. A route
says which tree an alert starts. All three are plain data; `references.py` checks that they point
at things that exist in the plan.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from notifier.domain.durations import Duration
from notifier.domain.plan import ChannelKind, Id, Model


class Mode(StrEnum):
    CASCADE = "cascade"  # a node's children are notified when the node acknowledges
    BROADCAST = "broadcast"  # everyone at once


class CompletionRule(StrEnum):
    ALL = "all"  # every required node resolved
    QUORUM = "quorum"  # at least `quorum` nodes acknowledged
    FIRST = "first"  # the first acknowledgement completes the tree


class ActivationKind(StrEnum):
    INCIDENT = "incident"
    DRILL = "drill"
    TEST = "test"


class Completion(Model):
    rule: CompletionRule = CompletionRule.ALL
    quorum: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _quorum_given(self) -> Completion:
        if self.rule is CompletionRule.QUORUM and self.quorum is None:
            raise ValueError("completion rule 'quorum' needs a quorum count")
        if self.rule is not CompletionRule.QUORUM and self.quorum is not None:
            raise ValueError("a quorum count is only meaningful with rule 'quorum'")
        return self


class Template(Model):
    """One message kind rendered per channel. `{field}` placeholders name message fields."""

    sms: str | None = None
    voice: str | None = None
    email_subject: str | None = None
    email_body: str | None = None


class Templates(Model):
    """Message templates per kind: what people are asked and told (activation, update, drill,
    deactivation), and the notices (to the coordinator: unreachable, completed; to people still being
    tried: stand-down; answers to SMS replies: late reply, which one). Each falls back to built-in text."""

    activation: Template = Template()
    update: Template = Template()
    drill: Template = Template()
    deactivation: Template = Template()
    unreachable_notice: Template = Template()
    completed_notice: Template = Template()
    stand_down: Template = Template()
    late_reply: Template = Template()
    which_one: Template = Template()
    invocation: Template = Template()
    decision_notice: Template = Template()


class Node(Model):
    """One position in a call tree: exactly one of role, team or person, with children."""

    id: Id | None = Field(None, description="defaults to the role, team or person id")
    role: Id | None = None
    team: Id | None = None
    person: Id | None = None
    label: str = ""
    required: bool = True
    policy: Id | None = None
    children: tuple[Node, ...] = ()
    notify: tuple[str, ...] = Field(
        (),
        description="informed channels: Apprise URLs or names under providers.apprise.targets; "
        "activations, updates, completion and close are posted there (one-way, never an acknowledgement)",
    )

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Node:
        given = [name for name in ("role", "team", "person") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a node names exactly one of role, team or person")
        return self

    @property
    def target(self) -> tuple[str, str]:
        """(kind, id) of what the node names."""
        for kind in ("role", "team", "person"):
            value = getattr(self, kind)
            if value:
                return kind, value
        raise AssertionError("validated node has a target")

    @property
    def key(self) -> str:
        return self.id or self.target[1]


class CallTree(Model):
    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    mode: Mode = Mode.CASCADE
    completion: Completion = Completion()
    time_limit: Duration = Field(timedelta(minutes=60), description="prescribed time limit for the tree")
    policy: Id = Field(description="default escalation policy of the tree's nodes")
    coordinator_role: Id | None = Field(None, description="told when a node is unreachable")
    include_external_in_drills: bool = Field(
        False, description="drills skip vendor/external contacts unless this is true"
    )
    templates: Templates = Templates()
    notify: tuple[str, ...] = Field(
        (),
        description="informed channels: Apprise URLs or names under providers.apprise.targets; "
        "activations, updates, completion and close are posted there (one-way, never an acknowledgement)",
    )
    stand_down: bool = Field(
        True, description="tell people still being tried when a first/quorum rule is met"
    )
    message_defaults: dict[str, str] = Field(
        default_factory=dict, description="message field -> default text (see domain/content.py)"
    )
    required_fields: dict[ActivationKind, tuple[str, ...]] = Field(
        default_factory=dict,
        description="message fields a start must provide, per kind (default: incident nature, "
        "convene, instructions; drill and test scenario)",
    )
    nodes: tuple[Node, ...] = Field(min_length=1)


class MethodStep(Model):
    kind: ChannelKind
    wait: Duration | None = Field(None, description="wait for an acknowledgement; defaults to ack_wait")


class EscalationPolicy(Model):
    id: Id
    name: str = ""
    methods: tuple[MethodStep, ...] = Field(min_length=1)
    ack_wait: Duration = timedelta(minutes=5)
    rounds: int = Field(1, ge=1, le=10, description="times the method list is tried per person")
    use_alternates: bool = True
    decline_moves_to_alternate: bool = True
    skip_level: bool = Field(True, description="notify an unreachable node's children directly")
    notify_coordinator: bool = True
    respect_hours: bool = True
    validity_period: Duration = Field(timedelta(minutes=30), description="Twilio drops SMS queued longer")

    def wait_for(self, step: MethodStep) -> timedelta:
        return step.wait if step.wait is not None else self.ack_wait


class OnResolved(StrEnum):
    """What happens when every alert of an activation's incident has resolved."""

    RECORD = "record"  # note it on the activation
    ANNOUNCE = "announce"  # also tell the coordinator and everyone reached (an update)
    STAND_DOWN = "stand_down"  # stop escalating to nodes not yet reached, and announce
    CLOSE = "close"  # close the activation with the deactivation message


class OnJoin(StrEnum):
    """What happens when another alert joins an open activation (never a new page)."""

    RECORD = "record"  # shown on the activation only
    UPDATE = "update"  # also an update to those reached (at most once per `update_interval`)


class IncidentKeyBy(StrEnum):
    SERVICE = "service"  # route id + the alert's service (the default)
    LABELS = "labels"  # route id + the values of `labels`
    GROUP_KEY = "group_key"  # route id + Alertmanager's / Grafana's groupKey (else the service)
    EXPLICIT = "explicit"  # route id + the alert's own `incident_key` field (else the service)


class IncidentKey(Model):
    """Which alerts are one outage: those with the same key join one activation."""

    by: IncidentKeyBy = IncidentKeyBy.SERVICE
    labels: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _labels_given(self) -> IncidentKey:
        if self.by is IncidentKeyBy.LABELS and not self.labels:
            raise ValueError("incident_key by 'labels' needs a list of label names")
        if self.by is not IncidentKeyBy.LABELS and self.labels:
            raise ValueError("incident_key labels are only meaningful with by: labels")
        return self


class Invoke(StrEnum):
    AUTO = "auto"  # the route starts its tree at once
    ASK = "ask"  # the plan's invocation authority is asked first; "1" starts the tree


class RouteMatch(Model):
    services: tuple[Id, ...] = ()
    severities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    rto_tiers: tuple[int, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)


class Route(Model):
    id: Id
    match: RouteMatch = RouteMatch()
    calltree: Id
    policy: Id | None = None
    kind: ActivationKind = ActivationKind.INCIDENT
    on_resolved: OnResolved = OnResolved.RECORD
    incident_key: IncidentKey = IncidentKey()
    group_window: Duration = Field(
        timedelta(hours=1),
        description="an alert joins the open activation of its key while another alert of the key "
        "fires or one resolved less than this long ago; later it starts a new activation",
    )
    quiet_period: Duration | None = Field(
        None,
        description="after a person cancels or closes the activation, the key is recorded, not paged, "
        "until all its alerts resolved or (when given) this long has passed",
    )
    on_join: OnJoin = OnJoin.RECORD
    update_interval: Duration = Field(
        timedelta(minutes=15), description="with on_join: update, at most one update per this interval"
    )
    invoke: Invoke = Invoke.AUTO


class CallTreeFile(Model):
    """What one YAML file in `calltrees/` may hold."""

    calltrees: tuple[CallTree, ...] = ()
    policies: tuple[EscalationPolicy, ...] = ()
    routes: tuple[Route, ...] = ()


class TreeSet(Model):
    """Every call tree, policy and route, merged from all files."""

    calltrees: tuple[CallTree, ...] = ()
    policies: tuple[EscalationPolicy, ...] = ()
    routes: tuple[Route, ...] = ()

    def tree(self, tree_id: str) -> CallTree | None:
        return next((t for t in self.calltrees if t.id == tree_id), None)

    def policy(self, policy_id: str) -> EscalationPolicy | None:
        return next((p for p in self.policies if p.id == policy_id), None)
