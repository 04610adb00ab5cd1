"""Honest notices: what the coordinator is told about an unreachable node and about completion, and
the stand-down to broadcast recipients no longer needed."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import Completion, CompletionRule, Mode
from notifier.domain.events import AttemptOutcome, ProviderStatus, Start
from tests.domain.planner_fixture import Sim, nist_tree, recipients, sends, snapshot


def _attempt(sim: Sim, key: str) -> str:
    attempt = sim.st.cursors[key].attempt
    assert attempt is not None
    return attempt


def test_a_node_whose_holder_declined_and_alternate_was_unreachable_is_unreachable_and_says_so() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.decline("p-net-lead")  # the network leader declines; the alternate is tried
    first = _attempt(sim, "network/p-net-lead-alt")
    sim.step(ProviderStatus(attempt_id=first, status="delivered"))
    sim.fire("ack:network/p-net-lead-alt")  # SMS delivered, no answer: the call
    call = _attempt(sim, "network/p-net-lead-alt")
    sim.step(ProviderStatus(attempt_id=call, status="busy"))  # busy: email at once
    email = _attempt(sim, "network/p-net-lead-alt")
    sim.step(AttemptOutcome(attempt_id=email, outcome="accepted"))
    actions = sim.fire("ack:network/p-net-lead-alt")  # email unanswered: rounds used up
    assert sim.st.nodes["network"].status == "unreachable"
    notices = [s for s in sends(actions) if s.message_kind == "unreachable_notice"]
    assert {s.person_id for s in notices} == {"p-cpc", "p-acpc"}
    tried = notices[0].extra["tried"]
    assert tried.startswith("network leader declined; network alternate: SMS +3247")
    assert "delivered, no answer, call +3247" in tried
    assert "busy, email p***@example.org sent, no answer" in tried
    assert "+32470123" not in tried  # addresses are masked


def test_the_completed_notice_gives_rule_counts_unreached_and_time_against_the_limit() -> None:
    tree = nist_tree(mode=Mode.BROADCAST, completion=Completion(rule=CompletionRule.QUORUM, quorum=2))
    sim = Sim(snapshot(tree))
    sim.step(Start())
    sim.now += timedelta(minutes=7)
    sim.confirm("p-net-lead")
    actions = sim.confirm("p-db-lead")
    notice = next(s for s in sends(actions) if s.message_kind == "completed_notice")
    assert notice.person_id == "p-cpc"
    assert notice.extra == {
        "rule": "quorum of 2",
        "counts": "2 of 11 nodes acknowledged, 9 no longer needed",
        "unreached": "Contingency Planning Coordinator, Net Os Admin, Help Desk, Dbms Admin, Sql Admin, "
        "Telecom Recovery Team, Wan Engineer, Server Recovery Team and 1 more",
        "elapsed": "7m of the 30m limit",
    }


def test_a_met_quorum_stands_down_everyone_still_being_tried_by_default() -> None:
    tree = nist_tree(mode=Mode.BROADCAST, completion=Completion(rule=CompletionRule.QUORUM, quorum=2))
    sim = Sim(snapshot(tree))
    sim.step(Start())
    sim.confirm("p-net-lead")
    actions = sim.confirm("p-db-lead")
    stood_down = recipients(actions, "stand_down")
    assert "p-net-lead" not in stood_down and "p-db-lead" not in stood_down
    assert len(stood_down) == 9 and "p-cpc" in stood_down
    quiet = Sim(snapshot(tree.model_copy(update={"stand_down": False})))
    quiet.step(Start())
    quiet.confirm("p-net-lead")
    assert recipients(quiet.confirm("p-db-lead"), "stand_down") == []


def test_the_all_rule_stands_nobody_down() -> None:
    sim = Sim(snapshot(nist_tree(mode=Mode.BROADCAST)))
    sim.step(Start())
    for person_id in ("p-cpc", "p-net-lead", "p-net-os-admin", "p-help-desk", "p-db-lead", "p-dbms-admin",
                      "p-sql-admin", "p-tel-lead", "p-wan-engineer", "p-srv-lead"):
        sim.confirm(person_id)
    actions = sim.confirm("p-email-admin")
    assert sim.st.status == "completed" and recipients(actions, "stand_down") == []
