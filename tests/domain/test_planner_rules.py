"""Escalation rules one at a time: declines, provider signals, alternates, unreachable roles."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import EscalationPolicy, MethodStep, Node
from notifier.domain.events import AckOnBehalf, AttemptOutcome, ProviderStatus, Reply, Start
from notifier.domain.plan import ChannelKind, ContactLabel, ContactMethod, Person, Role
from tests.domain.planner_fixture import (
    STANDARD,
    Sim,
    logs,
    nist_plan,
    nist_tree,
    recipients,
    sends,
    snapshot,
)


def started(accept: bool = True, **tree_changes: object) -> Sim:
    sim = Sim(snapshot(nist_tree(**tree_changes)), accept=accept)
    sim.step(Start())
    return sim


def current_attempt(sim: Sim, ck: str) -> str:
    attempt = sim.st.cursors[ck].attempt
    assert attempt is not None
    return attempt


def test_decline_moves_to_the_alternate_at_once() -> None:
    sim = started()
    actions = sim.decline("p-cpc")
    assert recipients(actions) == ["p-acpc"]
    assert sim.st.cursors["cpc/p-cpc"].status == "declined"
    assert "ack:cpc/p-cpc" not in sim.deadlines and "ack:cpc/p-acpc" in sim.deadlines
    assert "p-cpc" in sim.st.reached  # they got the message and answered


def test_decline_without_moving_to_alternate_leaves_the_node_unreachable_and_goes_past_it() -> None:
    firm = STANDARD.model_copy(update={"decline_moves_to_alternate": False})
    sim = Sim(snapshot(policies=(firm,)))
    sim.step(Start())
    actions = sim.decline("p-cpc")
    assert sim.st.nodes["cpc"].status == "unreachable"  # nobody acknowledged it
    assert [x.problem for x in logs(actions) if x.step == "node unreachable"] == [
        "declined by Coordinator; nobody else could be reached"
    ]
    assert sorted(recipients(actions, "activation")) == sorted(
        ["p-net-lead", "p-db-lead", "p-tel-lead", "p-srv-lead"]
    )
    assert sorted(recipients(actions, "unreachable_notice")) == ["p-acpc", "p-cpc"]


def test_invalid_number_moves_to_the_next_method_at_once() -> None:
    sim = started(accept=False)
    attempt = current_attempt(sim, "cpc/p-cpc")
    actions = sim.step(AttemptOutcome(attempt_id=attempt, outcome="invalid", error_code="21211"))
    assert [s.channel for s in sends(actions)] == [ChannelKind.VOICE]
    assert sim.st.attempts[attempt].status == "invalid"
    assert any(log.problem and "21211" in log.problem for log in logs(actions))


def test_failed_sms_status_moves_on_and_a_late_duplicate_changes_nothing() -> None:
    sim = started()
    attempt = current_attempt(sim, "cpc/p-cpc")
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))
    assert sim.st.attempts[attempt].status == "sent"
    actions = sim.step(ProviderStatus(attempt_id=attempt, status="failed", error_code="30003"))
    assert [s.channel for s in sends(actions)] == [ChannelKind.VOICE]
    assert sim.step(ProviderStatus(attempt_id=attempt, status="failed")) == []


def test_busy_and_no_answer_calls_move_on() -> None:
    for status in ("busy", "no_answer", "failed"):
        sim = started()
        sim.fire("ack:cpc/p-cpc")  # SMS unanswered -> voice
        call = current_attempt(sim, "cpc/p-cpc")
        actions = sim.step(ProviderStatus(attempt_id=call, status=status))
        assert [s.channel for s in sends(actions)] == [ChannelKind.EMAIL], status


def test_answering_machine_is_not_an_acknowledgement() -> None:
    sim = started()
    sim.fire("ack:cpc/p-cpc")
    call = current_attempt(sim, "cpc/p-cpc")
    actions = sim.step(ProviderStatus(attempt_id=call, status="machine"))
    assert [s.channel for s in sends(actions)] == [ChannelKind.EMAIL]
    assert sim.st.nodes["cpc"].status == "notifying"
    assert sim.st.attempts[call].status == "machine"
    assert "p-cpc" in sim.st.reached  # the voicemail heard it: they get the all-clear later
    # the call's "answered" report afterwards keeps it a voicemail and moves nothing
    assert sim.step(ProviderStatus(attempt_id=call, status="answered")) == []


def test_unknown_outcome_is_not_retried_blindly() -> None:
    sim = started(accept=False)
    attempt = current_attempt(sim, "cpc/p-cpc")
    sim.now += timedelta(seconds=40)  # the send ended (timeout) 40 s after it was queued
    actions = sim.step(AttemptOutcome(attempt_id=attempt, outcome="unknown"))
    assert sends(actions) == []
    # it may have been sent: its wait runs from the end of the send, and nothing is resent
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now + timedelta(minutes=5)
    assert sim.st.attempts[attempt].status == "unknown"
    assert [s.channel for s in sends(sim.fire("ack:cpc/p-cpc"))] == [ChannelKind.VOICE]


def test_delivered_email_never_counts_as_acknowledgement() -> None:
    sim = started()
    sim.fire("ack:cpc/p-cpc")
    sim.fire("ack:cpc/p-cpc")
    email = current_attempt(sim, "cpc/p-cpc")
    assert sim.st.attempts[email].channel is ChannelKind.EMAIL
    assert sends(sim.step(ProviderStatus(attempt_id=email, status="delivered"))) == []
    assert sim.st.nodes["cpc"].status == "notifying"
    assert sim.st.cursors["cpc/p-cpc"].attempt == email


def test_late_confirmation_from_an_exhausted_primary_still_counts() -> None:
    sim = started()
    for _ in range(3):
        sim.fire("ack:cpc/p-cpc")
    assert sim.st.cursors["cpc/p-acpc"].status == "notifying"
    actions = sim.confirm("p-cpc")
    assert sim.st.nodes["cpc"].acked_by == "p-cpc"
    assert sim.st.cursors["cpc/p-acpc"].status == "cancelled"
    assert "ack:cpc/p-acpc" not in sim.deadlines
    assert len(recipients(actions, "activation")) == 4


def test_role_without_holders_is_unreachable_at_once() -> None:
    plan = nist_plan()
    vacant = plan.model_copy(
        update={"roles": (*plan.roles, Role(id="dr-site-manager", name="DR Site Manager"))}
    )
    tree = nist_tree(nodes=(Node(role="dr-site-manager", children=(Node(role="cpc"),)),))
    sim = Sim(snapshot(tree, vacant))
    actions = sim.step(Start())
    assert sim.st.nodes["dr-site-manager"].status == "unreachable"
    assert [log.problem for log in logs(actions) if log.step == "node unreachable"] == [
        "the role has no holders"
    ]
    assert recipients(actions, "activation") == ["p-cpc"]  # skip level: its child is called directly


def test_no_skip_level_leaves_the_branch_and_the_tree_ends_exhausted() -> None:
    closed = STANDARD.model_copy(update={"skip_level": False, "use_alternates": False})
    sim = Sim(snapshot(policies=(closed,)))
    sim.step(Start())
    for _ in range(3):
        actions = sim.fire("ack:cpc/p-cpc")
    assert sim.st.nodes["cpc"].status == "unreachable"
    assert recipients(actions, "activation") == []
    # the required nodes under it can never be notified: resolved without being reached
    assert sim.st.status == "completed"
    assert sim.st.nodes["network"].status == "cancelled"


def test_several_contacts_of_one_kind_are_tried_in_order_and_rounds_repeat() -> None:
    plan = nist_plan()
    people = list(plan.people)
    index = next(i for i, p in enumerate(people) if p.id == "p-cpc")
    people[index] = Person(
        id="p-cpc",
        name="Coordinator",
        contacts=(
            ContactMethod(kind=ChannelKind.SMS, address="+32470999901", label=ContactLabel.WORK),
            ContactMethod(kind=ChannelKind.SMS, address="+32470999902", label=ContactLabel.MOBILE),
        ),
    )
    twice = EscalationPolicy(id="standard", methods=(MethodStep(kind=ChannelKind.SMS),), rounds=2)
    sim = Sim(snapshot(plan=plan.model_copy(update={"people": tuple(people)}), policies=(twice,)))
    addresses = [s.address for s in sends(sim.step(Start()))]
    for _ in range(3):
        addresses += [s.address for s in sends(sim.fire("ack:cpc/p-cpc"))]
    assert addresses == ["+32470999901", "+32470999902", "+32470999901", "+32470999902"]
    assert recipients(sim.fire("ack:cpc/p-cpc")) == ["p-acpc"]
    assert sim.deadlines["ack:cpc/p-acpc"][0] == sim.now + timedelta(minutes=5)  # ack_wait default


def test_confirm_on_behalf_before_the_tree_reached_someone() -> None:
    sim = started()
    sim.confirm("p-cpc")
    actions = sim.step(AckOnBehalf(person_id="p-db-lead-alt", by="p-cpc"))
    assert sim.st.nodes["database"].acked_by == "p-db-lead-alt"
    assert sim.st.cursors["database/p-db-lead"].status == "cancelled"
    assert sorted(recipients(actions)) == ["p-dbms-admin", "p-sql-admin"]
    assert sim.st.cursors["database/p-db-lead-alt"].acked_via == "on behalf, by p-cpc"


def test_reply_from_someone_never_contacted_changes_nothing() -> None:
    sim = started()
    before = sim.st
    actions = sim.step(Reply(person_id="p-sql-admin", response="confirm", channel=ChannelKind.SMS))
    assert sends(actions) == [] and sim.st == before
    assert logs(actions)[0].problem == "this person was never contacted"
    actions = sim.step(Reply(person_id="p-nobody", response="confirm", channel=ChannelKind.SMS))
    assert sim.st == before


def test_reply_names_its_attempt_when_someone_holds_two_nodes() -> None:
    plan = nist_plan()
    roles = [r.model_copy(update={"primary": "p-cpc"}) if r.id == "net-lead" else r for r in plan.roles]
    sim = Sim(
        snapshot(plan=plan.model_copy(update={"roles": tuple(roles)}), tree=nist_tree(mode="broadcast"))
    )
    sim.step(Start())
    network_attempt = current_attempt(sim, "network/p-cpc")
    sim.step(
        Reply(person_id="p-cpc", response="confirm", channel=ChannelKind.SMS, attempt_id=network_attempt)
    )
    assert sim.st.nodes["network"].status == "acknowledged"
    assert sim.st.nodes["cpc"].status == "notifying"
