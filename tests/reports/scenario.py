"""A scripted SEED outage played through the pure planner, with every time written down.

The plan follows NIST SP 800-34 Figure 4-2: a Contingency Planning Coordinator at the root and four
recovery teams (network, database, telecom, server) for TAXUD's SEED excise service. Fifteen people
are notified; the script makes twelve confirm, the database leader unreachable (invalid mobile
number, unanswered call, unanswered email), the WAN engineer unreachable (opted out of SMS, call
to voicemail, unanswered email) and the SQL administrator decline. The expected figures in the tests
were worked out by hand from the times below (minutes after the start).

`Driver` plays the engine: it keeps the deadline rows the planner asks for and fires every deadline
that falls due before the next scripted event, in due order, exactly as the deadline waiter would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Literal

from notifier.domain.calltree import ActivationKind, CallTree, EscalationPolicy, MethodStep, Node, TreeSet
from notifier.domain.events import (
    AttemptOutcome,
    DeadlineDue,
    DeliveryStatus,
    Event,
    Log,
    ProviderStatus,
    Reply,
    Schedule,
    Send,
    Start,
    Unschedule,
)
from notifier.domain.plan import (
    ChannelKind,
    ContactLabel,
    ContactMethod,
    Organisation,
    Person,
    Plan,
    Role,
    Service,
    Team,
)
from notifier.domain.planner import decide, initial_state
from notifier.domain.snapshot import Snapshot, compile_snapshot
from notifier.domain.state import ActivationState
from notifier.reports.model import ActivationRecord, LogRow

Outcome = Literal["accepted", "invalid", "opted_out", "failed", "unknown"]

#: Tuesday 10 March 2026, 10:00 in Brussels (09:00 UTC)
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

TEAMS = {
    "network": ("net-lead", ("net-os-admin", "help-desk", "lan-admin")),
    "database": ("db-lead", ("dbms-admin", "sql-admin", "backup-operator")),
    "telecom": ("tel-lead", ("wan-engineer",)),
    "server": ("srv-lead", ("email-admin", "web-admin")),
}
#: leaders with an alternate (only the database leader's alternate is ever needed)
ALTERNATES = {"db-lead": "p-db-alt", "cpc": "p-acpc"}
NAMES = {
    "p-cpc": "Anna Coordinator",
    "p-acpc": "Bruno Deputy",
    "p-db-alt": "Dora Alternate",
    "p-db-lead": "Dirk Database",
    "p-wan-engineer": "Wim Wan",
    "p-sql-admin": "Sara Sql",
}


def _number(serial: int) -> str:
    return f"+32470{serial:06d}"  # Belgian mobile range, made-up subscriber digits


def _person(pid: str, serial: int) -> Person:
    number = _number(serial)
    return Person(
        id=pid,
        name=NAMES.get(pid, pid.removeprefix("p-").replace("-", " ").title()),
        contacts=(
            ContactMethod(kind=ChannelKind.SMS, address=number, label=ContactLabel.MOBILE),
            ContactMethod(kind=ChannelKind.VOICE, address=number, label=ContactLabel.MOBILE),
            ContactMethod(kind=ChannelKind.EMAIL, address=f"{pid.removeprefix('p-')}@example.org"),
        ),
    )


def seed_plan() -> Plan:
    serials = count(100401)
    roles = [Role(id="cpc", name="Contingency Planning Coordinator", primary="p-cpc", alternates=("p-acpc",))]
    people = [_person("p-cpc", next(serials)), _person("p-acpc", next(serials))]
    teams = []
    for team, (lead, members) in TEAMS.items():
        alternates = (ALTERNATES[lead],) if lead in ALTERNATES else ()
        people += [_person(f"p-{lead}", next(serials))] + [_person(a, next(serials)) for a in alternates]
        roles.append(
            Role(
                id=lead,
                name=f"{team.title()} Recovery Team Leader",
                primary=f"p-{lead}",
                alternates=alternates,
            )
        )
        for member in members:
            people.append(_person(f"p-{member}", next(serials)))
            roles.append(Role(id=member, name=member.replace("-", " ").title(), primary=f"p-{member}"))
        teams.append(Team(id=team, name=f"{team.title()} Recovery Team", lead=lead, members=members))
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


def seed_snapshot(
    kind: ActivationKind = ActivationKind.INCIDENT, time_limit: timedelta = timedelta(minutes=30)
) -> Snapshot:
    tree = CallTree(
        id="seed-outage",
        name="SEED outage call tree",
        policy="standard",
        time_limit=time_limit,
        nodes=(Node(role="cpc", children=tuple(Node(team=team) for team in TEAMS)),),
    )
    return compile_snapshot(seed_plan(), TreeSet(calltrees=(tree,), policies=(STANDARD,)), tree.id, kind)


@dataclass
class Driver:
    snap: Snapshot
    start: datetime = T0
    now: datetime = T0
    state: ActivationState | None = None
    deadlines: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    log: list[LogRow] = field(default_factory=list)
    #: (person, channel) whose sends the script answers itself; every other send is taken by the
    #: provider at once (AttemptOutcome accepted), which starts its acknowledgement wait
    scripted: set[tuple[str, ChannelKind]] = field(default_factory=set)

    def step(self, event: Event) -> None:
        decision = decide(self.snap, self.state, event, self.now)
        self.state = decision.state
        accepted: list[str] = []
        for action in decision.actions:
            if isinstance(action, Send) and (action.person_id, action.channel) not in self.scripted:
                accepted.append(action.attempt_id)
            if isinstance(action, Schedule):
                self.deadlines[action.key] = (action.due_at, action.fence)
            elif isinstance(action, Unschedule):
                self.deadlines.pop(action.key, None)
            elif isinstance(action, Log):
                self.log.append(LogRow(self.now, action.step, action.who, action.outcome, action.problem))
        for attempt_id in accepted:
            self.step(AttemptOutcome(attempt_id=attempt_id, outcome="accepted"))

    def at(self, minutes: float) -> Driver:
        """Move the clock to `minutes` after the start, firing every deadline due on the way."""
        target = self.start + timedelta(minutes=minutes)
        while True:
            due = sorted((d, k) for k, (d, _) in self.deadlines.items() if d <= target)
            if not due:
                break
            when, key = due[0]
            _, fence = self.deadlines.pop(key)
            self.now = when
            self.step(DeadlineDue(key=key, fence=fence))
        self.now = target
        return self

    def attempt(self, person: str, channel: ChannelKind) -> str:
        assert self.state is not None
        found = [a for a in self.state.attempts.values() if a.person == person and a.channel is channel]
        return found[-1].id

    def confirm(self, person: str) -> None:
        self.step(Reply(person_id=person, response="confirm", channel=ChannelKind.SMS))

    def decline(self, person: str) -> None:
        self.step(Reply(person_id=person, response="decline", channel=ChannelKind.SMS))

    def outcome(
        self, person: str, channel: ChannelKind, outcome: Outcome, error_code: str | None = None
    ) -> None:
        attempt = self.attempt(person, channel)
        self.step(AttemptOutcome(attempt_id=attempt, outcome=outcome, error_code=error_code))

    def status(self, person: str, channel: ChannelKind, status: DeliveryStatus) -> None:
        self.step(ProviderStatus(attempt_id=self.attempt(person, channel), status=status))

    def record(self, activation_id: str = "act-seed-1", ref: str = "K7Q") -> ActivationRecord:
        assert self.state is not None
        return ActivationRecord(
            id=activation_id,
            ref=ref,
            tree_id=self.snap.tree_id,
            kind=self.snap.kind.value,
            status=self.state.status,
            started_at=self.start,
            started_by="coordinator@example.org",
            reason="SEED unavailable: excise movements cannot be validated",
            snapshot=self.snap,
            state=self.state,
            completed_at=self.state.completed_at,
            closed_at=self.state.closed_at,
            fields={"nature": "SEED outage", "convene": "Bridge 3, 10:30"},
        )


def play_seed_outage(snap: Snapshot, start: datetime = T0, stop_after: float | None = None) -> Driver:
    """The script of the module docstring (minutes after `start`), up to `stop_after` if given."""
    sms, voice = ChannelKind.SMS, ChannelKind.VOICE
    d = Driver(snap, start=start, now=start, state=initial_state(snap, start))
    d.scripted = {("p-db-lead", sms), ("p-wan-engineer", sms)}  # answered below: invalid, opted out
    d.step(Start())
    script: list[tuple[float, Callable[[], None]]] = [
        (1, lambda: d.confirm("p-cpc")),  # the four team leaders are notified by SMS
        (1, lambda: d.outcome("p-db-lead", sms, "invalid", "21211")),  # -> call at once
        (2, lambda: d.confirm("p-srv-lead")),
        (2, lambda: d.status("p-db-lead", voice, "no_answer")),  # -> email, waits 10 minutes (until 12)
        (3, lambda: d.confirm("p-net-lead")),
        (4, lambda: d.confirm("p-tel-lead")),
        (4, lambda: d.outcome("p-wan-engineer", sms, "opted_out", "21610")),  # -> call at once
        (
            5,
            lambda: d.status("p-wan-engineer", voice, "machine"),
        ),  # -> email
        (5, lambda: d.confirm("p-email-admin")),
        (6, lambda: d.confirm("p-net-os-admin")),
        (7, lambda: d.confirm("p-help-desk")),
        (8, lambda: d.confirm("p-web-admin")),  # its SMS wait ran out at 7: confirms after the call started
        (9, lambda: d.confirm("p-lan-admin")),  # ditto at 8
        (14, lambda: d.confirm("p-db-alt")),  # alternate notified at 12 when the leader was exhausted
        (16, lambda: d.confirm("p-dbms-admin")),  # the WAN engineer was given up on at 15
        (17, lambda: d.confirm("p-backup-operator")),
        (18, lambda: d.decline("p-sql-admin")),  # no alternate: node declined, tree complete
    ]
    for minute, act in script:
        if stop_after is not None and minute > stop_after:
            break
        d.at(minute)
        act()
    return d


def play_quick_drill(snap: Snapshot, start: datetime, pace: float) -> Driver:
    """Everyone confirms, one after another, `pace` minutes apart in notification order."""
    d = Driver(snap, start=start, now=start, state=initial_state(snap, start))
    d.step(Start())
    minute = 0.0
    while d.state is not None and d.state.status == "open":
        waiting = [c.person for c in d.state.cursors.values() if c.status == "notifying"]
        minute += pace
        d.at(minute).confirm(waiting[0])
    return d
