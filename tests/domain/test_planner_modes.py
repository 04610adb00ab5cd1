"""Broadcast, completion rules, time limit, cancel, close, drills, and the stored state's JSON."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import ActivationKind, Completion, CompletionRule, Mode
from notifier.domain.events import (
    ACTION_ADAPTER,
    EVENT_ADAPTER,
    Cancel,
    Close,
    Completed,
    ProviderStatus,
    Start,
    TimeLimitPassed,
)
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import TIME_LIMIT_KEY, ActivationState
from tests.domain.planner_fixture import Sim, logs, nist_plan, nist_tree, person, recipients, sends, snapshot

EVERYONE_FIRST = [
    "p-cpc",
    "p-net-lead",
    "p-net-os-admin",
    "p-help-desk",
    "p-db-lead",
    "p-dbms-admin",
    "p-sql-admin",
    "p-tel-lead",
    "p-wan-engineer",
    "p-srv-lead",
    "p-email-admin",
]


def test_broadcast_notifies_every_node_at_once() -> None:
    sim = Sim(snapshot(nist_tree(mode=Mode.BROADCAST)))
    actions = sim.step(Start())
    assert recipients(actions) == EVERYONE_FIRST
    assert all(s.channel is ChannelKind.SMS for s in sends(actions))
    assert len([k for k in sim.deadlines if k.startswith("ack:")]) == len(EVERYONE_FIRST)


def test_quorum_completes_and_stops_the_rest() -> None:
    tree = nist_tree(mode=Mode.BROADCAST, completion=Completion(rule=CompletionRule.QUORUM, quorum=3))
    sim = Sim(snapshot(tree))
    sim.step(Start())
    sim.confirm("p-net-lead")
    assert sim.st.status == "open"
    sim.confirm("p-dbms-admin")
    actions = sim.confirm("p-wan-engineer")
    assert [a.rule for a in actions if isinstance(a, Completed)] == [CompletionRule.QUORUM]
    assert sim.st.status == "completed"
    assert sim.deadlines == {}
    assert sum(n.status == "cancelled" for n in sim.st.nodes.values()) == len(EVERYONE_FIRST) - 3
    # a reply after completion is recorded but changes nothing
    before = sim.st
    actions = sim.confirm("p-cpc")
    assert sim.st == before and sends(actions) == []
    assert logs(actions)[0].problem == "activation is completed"


def test_first_acknowledgement_completes() -> None:
    sim = Sim(snapshot(nist_tree(completion=Completion(rule=CompletionRule.FIRST))))
    sim.step(Start())
    sim.fire("ack:cpc/p-cpc")
    actions = sim.confirm("p-cpc", ChannelKind.VOICE)
    assert any(isinstance(a, Completed) for a in actions)
    assert recipients(actions, "activation") == []  # first: the tree's purpose is met, nobody else is paged
    # the coordinator is told the tree is complete, once per holder of the coordinator role
    notices = [s for s in sends(actions) if s.message_kind == "completed_notice"]
    assert notices and sorted(s.person_id for s in notices) == sorted(sim.snap.coordinator)
    assert all(s.message_kind == "completed_notice" for s in sends(actions))
    assert sim.st.cursors["cpc/p-cpc"].acked_via == "voice"


def test_quorum_that_cannot_be_met_is_logged_once_and_left_open() -> None:
    tree = nist_tree(mode=Mode.BROADCAST, completion=Completion(rule=CompletionRule.QUORUM, quorum=11))
    sim = Sim(snapshot(tree))
    sim.step(Start())
    sim.decline("p-cpc")
    sim.decline("p-acpc")
    for person_id in EVERYONE_FIRST[1:]:
        sim.confirm(person_id)
    assert sim.st.status == "open" and sim.st.exhausted
    assert [log.step for log in logs(sim.history)].count("exhausted") == 1


def test_time_limit_is_reported_and_the_tree_keeps_running() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.confirm("p-net-lead")
    sim.now += timedelta(minutes=30)
    actions = sim.fire(TIME_LIMIT_KEY)
    assert [a for a in actions if isinstance(a, TimeLimitPassed)] == [TimeLimitPassed(at=sim.now)]
    [log] = logs(actions)
    assert log.outcome == "prescribed time limit of 30m passed with 2 of 11 nodes acknowledged"
    assert sim.st.time_limit_passed and sim.st.status == "open"
    assert sends(sim.fire("ack:database/p-db-lead"))  # escalation goes on


def test_cancel_stops_everything() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    actions = sim.step(Cancel(by="p-cpc", reason="false alarm from SEED monitoring"))
    assert sim.st.status == "cancelled" and sim.deadlines == {}
    assert all(n.status in ("acknowledged", "cancelled") for n in sim.st.nodes.values())
    assert all(c.status != "notifying" for c in sim.st.cursors.values())
    assert logs(actions)[-1].outcome == "activation cancelled: false alarm from SEED monitoring"
    assert sim.step(Start()) and sends(sim.history[-1:]) == []


def test_close_sends_return_to_normal_to_the_reached_only() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    delivered = sim.st.cursors["database/p-db-lead"].attempt or ""
    sim.step(ProviderStatus(attempt_id=delivered, status="delivered"))
    sim.confirm("p-net-lead")
    sim.decline("p-tel-lead")
    actions = sim.step(Close(by="p-cpc", message="TARIC restored"))
    deactivations = [s for s in sends(actions) if s.message_kind == "deactivation"]
    assert [s.person_id for s in deactivations] == ["p-cpc", "p-db-lead", "p-net-lead", "p-tel-lead"]
    assert all(
        s.channel is ChannelKind.SMS and s.extra == {"message": "TARIC restored"} for s in deactivations
    )
    assert sim.st.status == "closed" and sim.deadlines == {}
    assert sim.step(Close(by="p-cpc")) and sends(sim.history[-1:]) == []


def test_drill_leaves_out_external_people_and_sends_the_drill_message() -> None:
    vendor = person("p-vendor", "Vendor Duty Engineer", affiliation="vendor-digit")
    plan = nist_plan((vendor,))
    roles = [r.model_copy(update={"alternates": ("p-vendor",)}) if r.id == "cpc" else r for r in plan.roles]
    plan = plan.model_copy(update={"roles": tuple(roles)})
    drill = snapshot(plan=plan, kind=ActivationKind.DRILL)
    assert drill.nodes["cpc"].holders == ("p-cpc",) and "p-vendor" not in drill.people
    assert snapshot(plan=plan).nodes["cpc"].holders == ("p-cpc", "p-vendor")
    included = snapshot(nist_tree(include_external_in_drills=True), plan, ActivationKind.DRILL)
    assert included.nodes["cpc"].holders == ("p-cpc", "p-vendor")
    sim = Sim(drill)
    assert [s.message_kind for s in sends(sim.step(Start()))] == ["drill"]


def test_state_and_snapshot_survive_json() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.fire("ack:database/p-db-lead")
    state = sim.st
    assert ActivationState.model_validate_json(state.model_dump_json()) == state
    assert Snapshot.model_validate_json(sim.snap.model_dump_json()) == sim.snap


def test_events_and_actions_survive_json() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.fire("ack:database/p-db-lead")
    sim.step(Close(by="p-cpc", message="SEED restored"))
    for action in sim.history:
        assert ACTION_ADAPTER.validate_json(ACTION_ADAPTER.dump_json(action)) == action
    for event in (Start(), Cancel(by="p-cpc"), ProviderStatus(attempt_id="a1", status="delivered")):
        assert EVENT_ADAPTER.validate_json(EVENT_ADAPTER.dump_json(event)) == event


def test_announce_updates_the_reached_and_changes_no_escalation() -> None:
    from notifier.domain.events import Announce

    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    deadlines_before = dict(sim.deadlines)
    actions = sim.step(Announce(by="alert:alertmanager", message="Resolved: SEED back online"))
    updates = [s for s in sends(actions) if s.message_kind == "update"]
    assert [s.person_id for s in updates] == ["p-cpc"]
    assert updates[0].extra["message"] == "Resolved: SEED back online"
    assert sim.deadlines == deadlines_before and sim.st.status == "open"
    sim.step(Close(by="p-cpc"))
    assert sends(sim.step(Announce(by="x", message="late"))) == []
