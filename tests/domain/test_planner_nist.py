"""The NIST SP 800-34 Figure 4-2 call tree in cascade mode, decided by the pure planner."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import CompletionRule
from notifier.domain.events import Completed, Schedule, Start, Unschedule
from notifier.domain.plan import ChannelKind
from notifier.domain.state import TIME_LIMIT_KEY
from tests.domain.planner_fixture import TEAMS, Sim, logs, recipients, sends, snapshot


def test_snapshot_expands_teams_into_lead_and_member_nodes() -> None:
    snap = snapshot()
    assert snap.roots == ("cpc",)
    assert snap.nodes["cpc"].children == ("network", "database", "telecom", "server")
    database = snap.nodes["database"]
    assert (database.kind, database.ref, database.level) == ("role", "db-lead", 1)
    assert database.holders == ("p-db-lead", "p-db-lead-alt")
    assert database.children == ("database.dbms-admin", "database.sql-admin")
    assert snap.nodes["database.sql-admin"].parent == "database"
    assert snap.nodes["database.sql-admin"].level == 2
    assert snap.coordinator == ("p-cpc", "p-acpc")
    assert snap.people["p-cpc"].timezone == "Europe/Brussels"  # the organisation's, resolved


def test_start_notifies_the_coordinator_and_schedules_the_time_limit() -> None:
    sim = Sim(snapshot())
    actions = sim.step(Start())
    [send] = sends(actions)
    assert (send.person_id, send.channel, send.message_kind, send.node_key) == (
        "p-cpc",
        ChannelKind.SMS,
        "activation",
        "cpc",
    )
    assert send.validity_period_s == 1800
    assert sim.deadlines[TIME_LIMIT_KEY][0] == sim.now + timedelta(minutes=30)
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now + timedelta(minutes=5)
    assert sim.st.nodes["cpc"].status == "notifying"
    assert sim.st.nodes["network"].status == "pending"


def test_figure_4_2_escalates_past_a_silent_team_leader() -> None:
    sim = Sim(snapshot())
    sim.step(Start())

    # the coordinator confirms with "1": the four team leaders are called
    actions = sim.confirm("p-cpc")
    assert sorted(recipients(actions)) == sorted(f"p-{lead}" for lead, _ in TEAMS.values())
    assert "ack:cpc/p-cpc" not in sim.deadlines
    assert sim.st.nodes["cpc"].status == "acknowledged"
    assert "p-cpc" in sim.st.reached

    # three leaders confirm; their members are notified at once
    for lead in ("net-lead", "tel-lead", "srv-lead"):
        sim.now += timedelta(minutes=1)
        actions = sim.confirm(f"p-{lead}")
        team = next(t for t, (lead_role, _) in TEAMS.items() if lead_role == lead)
        assert sorted(recipients(actions)) == sorted(f"p-{m}" for m in TEAMS[team][1])

    # the database leader stays silent: SMS, then voice, then email, as the policy says
    assert sim.st.attempts[sim.st.cursors["database/p-db-lead"].attempt or ""].channel is ChannelKind.SMS
    actions = sim.fire("ack:database/p-db-lead")
    assert [(s.person_id, s.channel) for s in sends(actions)] == [("p-db-lead", ChannelKind.VOICE)]
    actions = sim.fire("ack:database/p-db-lead")
    assert [(s.person_id, s.channel) for s in sends(actions)] == [("p-db-lead", ChannelKind.EMAIL)]
    assert sim.deadlines["ack:database/p-db-lead"][0] == sim.now + timedelta(minutes=10)
    # then the role's alternate
    actions = sim.fire("ack:database/p-db-lead")
    assert [(s.person_id, s.channel) for s in sends(actions)] == [("p-db-lead-alt", ChannelKind.SMS)]
    assert sim.st.cursors["database/p-db-lead"].status == "exhausted"
    assert any(log.step == "holder exhausted" and log.who == "p-db-lead" for log in logs(actions))

    # the alternate is silent too: the node is unreachable, its members are called directly,
    # the coordinator (who is also the parent's acknowledging holder) is told once
    sim.fire("ack:database/p-db-lead-alt")
    sim.fire("ack:database/p-db-lead-alt")
    actions = sim.fire("ack:database/p-db-lead-alt")
    assert sim.st.nodes["database"].status == "unreachable"
    assert sorted(recipients(actions, "activation")) == ["p-dbms-admin", "p-sql-admin"]
    notices = [s for s in sends(actions) if s.message_kind == "unreachable_notice"]
    assert [n.person_id for n in notices] == ["p-cpc", "p-acpc"]
    assert notices[0].extra["node"] == "database"
    assert any(log.step == "node unreachable" and log.who == "database" for log in logs(actions))
    assert not any(key.startswith("ack:database/") for key in sim.deadlines)

    # not complete while members are still being called
    assert sim.st.status == "open"
    members = [f"p-{m}" for _, ms in TEAMS.values() for m in ms]
    for member in members[:-1]:
        assert not any(isinstance(a, Completed) for a in sim.confirm(member))
    actions = sim.confirm(members[-1])
    [completed] = [a for a in actions if isinstance(a, Completed)]
    assert completed.rule is CompletionRule.ALL
    assert sim.st.status == "completed"
    assert Unschedule(key=TIME_LIMIT_KEY) in actions
    assert set(sim.deadlines) == set()
    assert "p-db-lead" not in sim.st.reached  # never acknowledged, no delivery reported


def test_every_state_change_is_logged() -> None:
    sim = Sim(snapshot())
    for actions in (sim.step(Start()), sim.confirm("p-cpc"), sim.fire("ack:network/p-net-lead")):
        assert logs(actions), actions
        assert all(a.who is None or ("@" not in a.who and "+" not in a.who) for a in logs(actions))
        assert all("+32" not in a.outcome and "@" not in a.outcome for a in logs(actions))


def test_stale_fence_is_ignored() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    _, first_fence = sim.deadlines["ack:cpc/p-cpc"]
    sim.fire("ack:cpc/p-cpc")  # moves to voice, fence + 1
    from notifier.domain.events import DeadlineDue

    sim.now += timedelta(minutes=1)
    before = sim.st
    assert sim.step(DeadlineDue(key="ack:cpc/p-cpc", fence=first_fence)) == []
    assert sim.st == before
    # and a deadline for a cursor that has acknowledged is stale too
    _, fence = sim.deadlines["ack:cpc/p-cpc"]
    sim.confirm("p-cpc")
    assert sim.step(DeadlineDue(key="ack:cpc/p-cpc", fence=fence)) == []


def test_each_attempt_schedules_its_own_wait() -> None:
    sim = Sim(snapshot())
    actions = sim.step(Start())
    # queued (give-up bound, fence 1), then accepted by the provider (the wait, fence 2)
    give_up, wait = [a for a in actions if isinstance(a, Schedule) and a.key.startswith("ack:")]
    cursor = sim.st.cursors["cpc/p-cpc"]
    assert (give_up.fence, wait.fence, cursor.fence, cursor.due_at) == (1, 2, 2, wait.due_at)
