"""A small NIST SP 800-34 Figure 4-2 plan and a driver that plays events into the pure planner.

The plan: a Contingency Planning Coordinator role (primary + alternate) at the root, four recovery
teams (network, database, telecom, server) whose leader roles each have an alternate and whose
members hold one role each. The service is TAXUD's SEED (excise, RTO tier 1). Numbers are in the
Belgian mobile range with made-up subscriber digits; addresses are at example.org.

`Sim` plays the engine: it keeps the deadline rows the planner asked for (by key, with fence),
advances a fake `now`, and fires deadlines the way the engine's waiter would. Unless told otherwise
(`accept=False`) it also plays a provider that takes every message at once, as the dispatcher
reports it (`AttemptOutcome` accepted), which is what starts each acknowledgement wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.domain.calltree import ActivationKind, CallTree, EscalationPolicy, MethodStep, Node, TreeSet
from notifier.domain.events import (
    Action,
    AttemptOutcome,
    DeadlineDue,
    Event,
    Log,
    Reply,
    Schedule,
    Send,
    Unschedule,
)
from notifier.domain.plan import (
    ChannelKind,
    ContactLabel,
    ContactMethod,
    Hours,
    Organisation,
    Person,
    Plan,
    Role,
    Service,
    Team,
)
from notifier.domain.planner import decide_many
from notifier.domain.snapshot import Snapshot, compile_snapshot
from notifier.domain.state import ActivationState

#: Tuesday 10 March 2026, 10:00 in Brussels (09:00 UTC): business hours
TUESDAY_MORNING = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

_numbers: dict[str, str] = {}


def person(pid: str, name: str, *, affiliation: str = "", hours: Hours = Hours.ALWAYS) -> Person:
    number = _numbers.setdefault(pid, f"+32470123{401 + len(_numbers)}")
    return Person(
        id=pid,
        name=name,
        affiliation=affiliation,
        contacts=(
            ContactMethod(kind=ChannelKind.SMS, address=number, label=ContactLabel.MOBILE, hours=hours),
            ContactMethod(kind=ChannelKind.VOICE, address=number, label=ContactLabel.MOBILE, hours=hours),
            ContactMethod(kind=ChannelKind.EMAIL, address=f"{pid}@example.org"),
        ),
    )


TEAMS = {
    "network": ("net-lead", ("net-os-admin", "help-desk")),
    "database": ("db-lead", ("dbms-admin", "sql-admin")),
    "telecom": ("tel-lead", ("wan-engineer",)),
    "server": ("srv-lead", ("email-admin",)),
}


def nist_plan(extra_people: tuple[Person, ...] = ()) -> Plan:
    people = [person("p-cpc", "Coordinator"), person("p-acpc", "Alternate Coordinator")]
    roles = [Role(id="cpc", name="Contingency Planning Coordinator", primary="p-cpc", alternates=("p-acpc",))]
    teams = []
    for team, (lead, members) in TEAMS.items():
        people += [person(f"p-{lead}", f"{team} leader"), person(f"p-{lead}-alt", f"{team} alternate")]
        roles.append(
            Role(
                id=lead,
                name=f"{team.title()} Recovery Team Leader",
                primary=f"p-{lead}",
                alternates=(f"p-{lead}-alt",),
            )
        )
        for member in members:
            people.append(person(f"p-{member}", member))
            roles.append(Role(id=member, name=member.replace("-", " ").title(), primary=f"p-{member}"))
        teams.append(Team(id=team, name=f"{team.title()} Recovery Team", lead=lead, members=members))
    people += list(extra_people)
    return Plan(
        organisation=Organisation(name="DG TAXUD ITSM", timezone="Europe/Brussels", coordinator_role="cpc"),
        people=tuple(people),
        roles=tuple(roles),
        teams=tuple(teams),
        services=(Service(id="SEED", name="System for Exchange of Excise Data", rto_tier=1),),
    )


STANDARD = EscalationPolicy(
    id="standard",
    methods=(
        MethodStep(kind=ChannelKind.SMS, wait=timedelta(minutes=5)),
        MethodStep(kind=ChannelKind.VOICE, wait=timedelta(minutes=5)),
        MethodStep(kind=ChannelKind.EMAIL, wait=timedelta(minutes=10)),
    ),
)


def nist_tree(**changes: Any) -> CallTree:
    root = Node(role="cpc", children=tuple(Node(team=team) for team in TEAMS))
    fields: dict[str, Any] = {
        "id": "nist-sample",
        "name": "NIST Figure 4-2 sample call tree",
        "policy": "standard",
        "time_limit": timedelta(minutes=30),
        "nodes": (root,),
    }
    fields.update(changes)
    return CallTree(**fields)


def snapshot(
    tree: CallTree | None = None,
    plan: Plan | None = None,
    kind: ActivationKind = ActivationKind.INCIDENT,
    policies: tuple[EscalationPolicy, ...] = (STANDARD,),
) -> Snapshot:
    trees = TreeSet(calltrees=(tree or nist_tree(),), policies=policies)
    return compile_snapshot(plan or nist_plan(), trees, (tree or nist_tree()).id, kind)


@dataclass
class Sim:
    """Plays the engine around the planner: state, fake clock, deadline rows, action history."""

    snap: Snapshot
    now: datetime = TUESDAY_MORNING
    state: ActivationState | None = None
    deadlines: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    history: list[Action] = field(default_factory=list)
    #: answer every Send with AttemptOutcome(accepted) at once (a provider with no queue)
    accept: bool = True

    def step(self, event: Event) -> list[Action]:
        """Apply `event`; the returned actions include those of the provider's answers (`accept`)."""
        actions = self._apply(event)
        pending = [a.attempt_id for a in actions if isinstance(a, Send)] if self.accept else []
        while pending:
            more = self._apply(AttemptOutcome(attempt_id=pending.pop(0), outcome="accepted"))
            pending += [a.attempt_id for a in more if isinstance(a, Send)]
            actions += more
        return actions

    def _apply(self, event: Event) -> list[Action]:
        return self.step_many([event])

    def step_many(self, events: list[Event]) -> list[Action]:
        """Apply `events` in one step, as the engine does with a burst (no provider answers)."""
        decision = decide_many(self.snap, self.state, events, self.now)
        # the stored state must survive the JSON column it lives in
        assert ActivationState.model_validate_json(decision.state.model_dump_json()) == decision.state
        self.state = decision.state
        for action in decision.actions:
            if isinstance(action, Schedule):
                self.deadlines[action.key] = (action.due_at, action.fence)
            elif isinstance(action, Unschedule):
                self.deadlines.pop(action.key, None)
        self.history.extend(decision.actions)
        return list(decision.actions)

    @property
    def st(self) -> ActivationState:
        assert self.state is not None
        return self.state

    def fire(self, key: str) -> list[Action]:
        """Advance the clock to deadline `key` and deliver it (the engine deletes the row first)."""
        due, fence = self.deadlines.pop(key)
        self.now = max(self.now, due)
        return self.step(DeadlineDue(key=key, fence=fence))

    def confirm(self, person_id: str, channel: ChannelKind = ChannelKind.SMS) -> list[Action]:
        return self.step(Reply(person_id=person_id, response="confirm", channel=channel))

    def decline(self, person_id: str) -> list[Action]:
        return self.step(Reply(person_id=person_id, response="decline", channel=ChannelKind.SMS))


def sends(actions: list[Action]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def logs(actions: list[Action]) -> list[Log]:
    return [a for a in actions if isinstance(a, Log)]


def recipients(actions: list[Action], kind: str | None = None) -> list[str]:
    return [s.person_id for s in sends(actions) if kind is None or s.message_kind == kind]
