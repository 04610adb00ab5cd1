"""domain/untried.py, rule by rule: an outage that outlasts the give-up bound marks nobody unreachable,
and the activation still ends in bounded time if the provider never comes back (issue 12)."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import Node
from notifier.domain.events import Action, AttemptOutcome, ProviderFailing, Send, Start, Withdraw
from notifier.domain.plan import ChannelKind
from notifier.domain.progress import summarise
from tests.domain.planner_fixture import Sim, logs, nist_tree, sends, snapshot

VALIDITY = timedelta(minutes=30)  # the policy's default validity period: the give-up bound
OUTAGE = ProviderFailing(
    outage="twilio@2026-03-03T09:00:00", channels=(ChannelKind.SMS, ChannelKind.VOICE), detail="twilio down"
)
KEY = "ack:cpc/p-cpc"


def coordinator_only() -> Sim:
    """One node (the coordinator role: p-cpc, then p-acpc), SMS -> voice -> email, one round; the
    provider takes nothing by itself (`accept=False`)."""
    return Sim(snapshot(nist_tree(nodes=(Node(role="cpc"),))), accept=False)


def refuse(sim: Sim, actions: list[Action], channels: frozenset[ChannelKind] | None = None) -> list[Action]:
    """The dispatcher's answers while the provider is down: each new send refused (not_sent)."""
    more: list[Action] = []
    for send in sends(actions):
        if channels is None or send.channel in channels:
            more += sim.step(
                AttemptOutcome(attempt_id=send.attempt_id, outcome="not_sent", error_code="connect")
            )
    return more


def started_in_an_outage() -> tuple[Sim, list[Action]]:
    sim = coordinator_only()
    actions = sim.step(Start())
    refuse(sim, actions)
    sim.step(OUTAGE)
    return sim, actions


def attempt_of(sim: Sim, person: str = "p-cpc") -> str:
    attempt = sim.st.cursors[f"cpc/{person}"].attempt
    assert attempt is not None
    return attempt


def test_rule_1_refusals_are_retried_until_the_give_up_bound_from_queueing() -> None:
    sim, _ = started_in_an_outage()
    queued_at = sim.now
    for _ in range(20):  # the dispatcher keeps retrying: none of it moves the bound
        sim.now += timedelta(seconds=30)
        sim.step(AttemptOutcome(attempt_id=attempt_of(sim), outcome="not_sent", error_code="connect"))
    assert sim.deadlines[KEY][0] == queued_at + VALIDITY
    assert sim.st.nodes["cpc"].status == "notifying" and sim.st.status == "open"


def test_rule_2_past_the_bound_the_attempt_is_not_tried_and_the_next_method_goes() -> None:
    sim, _ = started_in_an_outage()
    sms = attempt_of(sim)
    actions = sim.fire(KEY)
    assert sim.st.attempts[sms].status == "not_tried"
    assert Withdraw(attempt_id=sms) in actions  # out of the queue: it will not go out late
    [given_up] = [log for log in logs(actions) if log.step == "not sent"]
    assert "twilio failing" in given_up.outcome and given_up.problem == "provider failure"
    assert [s.channel for s in sends(actions)] == [ChannelKind.VOICE]  # the next method is tried
    assert not [log for log in logs(actions) if "no answer" in log.outcome]


def test_rule_2_a_message_only_stuck_in_the_queue_is_not_tried_either() -> None:
    sim = coordinator_only()
    sim.step(Start())  # nothing refused, no outage reported: just never taken in 30 minutes
    actions = sim.fire(KEY)
    [given_up] = [log for log in logs(actions) if log.step == "not sent"]
    assert "still queued" in given_up.outcome and given_up.problem == "not sent"


def run_out(sim: Sim, refuse_channels: frozenset[ChannelKind] | None = None) -> list[Action]:
    """Fire every deadline as it comes (refusing each new send) until the activation ends."""
    history: list[Action] = []
    for _ in range(50):
        if sim.st.status != "open":
            return history
        key = min((k for k in sim.deadlines if k.startswith("ack:")), key=lambda k: sim.deadlines[k][0])
        actions = sim.fire(key)
        history += actions + refuse(sim, actions, refuse_channels)
    raise AssertionError("the activation never ended")


def test_rules_3_and_4_a_provider_that_never_returns_ends_the_activation_with_nobody_unreachable() -> None:
    sim, _ = started_in_an_outage()
    start = sim.now
    history = run_out(sim)
    assert sim.st.status == "completed"
    assert sim.st.nodes["cpc"].status == "not_tried"
    assert {c.status for c in sim.st.cursors.values()} == {"not_tried"}
    assert {a.status for a in sim.st.attempts.values() if a.purpose == "activation"} == {"not_tried"}
    # bounded: two holders x three methods x one round, each given up after the validity period
    assert sim.now - start <= 2 * 3 * VALIDITY
    steps = [log.step for log in logs(history)]
    assert "node not tried" in steps and "node unreachable" not in steps and "holder exhausted" not in steps
    [node_log] = [log for log in logs(history) if log.step == "node not tried"]
    assert "not tried: twilio was failing" in node_log.outcome
    # the coordinator role is told why (notify_coordinator), not that the node is unreachable
    notices = [s for s in sends(history) if isinstance(s, Send) and s.message_kind == "unreachable_notice"]
    assert notices and all(s.extra["reason"] == "not tried: twilio was failing" for s in notices)
    counts = summarise(sim.snap, sim.st).counts
    assert (counts.unreachable, counts.not_tried) == (0, 1)


def test_rule_3_someone_whose_sms_left_but_whose_call_never_could_is_not_unreachable() -> None:
    sim = coordinator_only()
    actions = sim.step(Start())
    sim.step(AttemptOutcome(attempt_id=sends(actions)[0].attempt_id, outcome="accepted"))  # SMS left
    sim.step(OUTAGE)  # then the provider failed: the call and everything after are refused
    run_out(sim)
    cursor = sim.st.cursors["cpc/p-cpc"]
    assert cursor.status == "not_tried"
    assert sim.st.nodes["cpc"].status == "not_tried"


def test_rule_3_every_method_really_tried_and_unanswered_is_still_unreachable() -> None:
    sim = Sim(snapshot(nist_tree(nodes=(Node(role="cpc"),))))  # the provider takes everything
    sim.step(Start())
    history = run_out(sim, refuse_channels=frozenset())
    assert sim.st.nodes["cpc"].status == "unreachable"
    assert {c.status for c in sim.st.cursors.values()} == {"exhausted"}
    assert "node unreachable" in [log.step for log in logs(history)]


def test_rule_5_a_later_confirmation_still_acknowledges_a_node_not_tried() -> None:
    sim = Sim(snapshot(nist_tree()), accept=False)  # the whole tree, so the activation stays open
    actions = sim.step(Start())
    refuse(sim, actions)
    sim.step(OUTAGE)
    for _ in range(6):  # the coordinator node's two holders x three methods, all refused
        refuse(sim, sim.fire(min((k for k in sim.deadlines if k.startswith("ack:cpc/")), key=str)))
    assert sim.st.nodes["cpc"].status == "not_tried"
    sim.confirm("p-cpc")
    assert sim.st.nodes["cpc"].status == "acknowledged" and sim.st.nodes["cpc"].acked_by == "p-cpc"
