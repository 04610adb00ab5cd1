"""Nothing is sent after it stopped mattering, and a provider's failure is not the person's (issue 12).

Queued messages that an acknowledgement, the completion or the end of the activation made obsolete
are withdrawn in the same step; one a sender already had is recorded as sent after the stop. A send
the provider certainly did not take (refused connection, 429, a not-created 5xx) is retried on the
same attempt: the person's wait has not started and nothing moves on.
"""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import Completion, CompletionRule, Mode
from notifier.domain.events import (
    AttemptOutcome,
    Cancel,
    Close,
    ProviderFailing,
    ProviderStatus,
    Start,
    Withdraw,
)
from notifier.domain.plan import ChannelKind
from tests.domain.planner_fixture import Sim, logs, nist_tree, sends, snapshot


def withdrawn(actions: list[object]) -> list[str]:
    return [a.attempt_id for a in actions if isinstance(a, Withdraw)]


def queued_broadcast(rule: CompletionRule = CompletionRule.ALL) -> Sim:
    """A broadcast whose every first SMS is still queued behind the senders."""
    sim = Sim(snapshot(nist_tree(mode=Mode.BROADCAST, completion=Completion(rule=rule))), accept=False)
    sim.step(Start())
    return sim


def attempt_of(sim: Sim, ck: str) -> str:
    attempt = sim.st.cursors[ck].attempt
    assert attempt is not None
    return attempt


def test_completion_withdraws_every_queued_escalation_message_but_not_the_notice() -> None:
    sim = queued_broadcast(CompletionRule.FIRST)
    everyone = {attempt_of(sim, key) for key in sim.st.cursors}
    actions = sim.confirm("p-cpc")  # (their own queued SMS is obsolete too: they have answered)
    assert set(withdrawn(actions)) == everyone
    assert all(sim.st.attempts[a].status == "withdrawn" for a in everyone)
    notices = [s for s in sends(actions) if s.message_kind == "completed_notice"]
    assert notices and not {s.attempt_id for s in notices} & set(withdrawn(actions))


def test_an_acknowledgement_withdraws_the_holders_own_queued_message() -> None:
    sim = queued_broadcast()
    mine = attempt_of(sim, "network/p-net-lead")
    actions = sim.confirm("p-net-lead", ChannelKind.VOICE)  # answered another way before the SMS left
    assert withdrawn(actions) == [mine]


def test_cancel_withdraws_queued_messages_and_close_still_sends_the_all_clear() -> None:
    sim = queued_broadcast()
    sim.step(AttemptOutcome(attempt_id=attempt_of(sim, "cpc/p-cpc"), outcome="accepted"))
    sim.step(ProviderStatus(attempt_id=attempt_of(sim, "cpc/p-cpc"), status="delivered"))
    queued = {a.id for a in sim.st.attempts.values() if a.status == "queued"}
    assert len(queued) == len(sim.st.cursors) - 1
    actions = sim.step(Cancel(by="p-cpc", reason="false alarm"))
    assert set(withdrawn(actions)) == queued
    actions = sim.step(Close(by="p-cpc"))
    assert [s.message_kind for s in sends(actions)] == ["deactivation"] and withdrawn(actions) == []


def test_a_message_already_with_a_sender_is_recorded_as_sent_after_the_stop() -> None:
    sim = queued_broadcast(CompletionRule.FIRST)
    late = attempt_of(sim, "network/p-net-lead")
    sim.confirm("p-cpc")
    actions = sim.step(AttemptOutcome(attempt_id=late, outcome="accepted"))
    attempt = sim.st.attempts[late]
    assert (attempt.status, attempt.after_stop) == ("sent", True)
    assert next(log.step for log in logs(actions)) == "sent after stop"
    assert sends(actions) == []


def test_a_withdrawn_message_that_the_provider_refused_is_withdrawn_again_not_requeued() -> None:
    sim = queued_broadcast(CompletionRule.FIRST)
    late = attempt_of(sim, "network/p-net-lead")
    sim.confirm("p-cpc")
    actions = sim.step(AttemptOutcome(attempt_id=late, outcome="not_sent", error_code="connect"))
    assert withdrawn(actions) == [late] and sim.st.attempts[late].after_stop is False


def test_an_attempt_given_up_before_it_left_is_withdrawn() -> None:
    sim = queued_broadcast()
    first = attempt_of(sim, "cpc/p-cpc")
    actions = sim.fire("ack:cpc/p-cpc")  # the validity period ran out with the SMS still queued
    assert withdrawn(actions) == [first]
    assert [s.channel for s in sends(actions)] == [ChannelKind.VOICE]


def test_a_send_the_provider_did_not_take_is_retried_and_nobody_moves_on() -> None:
    sim = queued_broadcast()
    attempt = attempt_of(sim, "cpc/p-cpc")
    give_up = sim.deadlines["ack:cpc/p-cpc"]
    first = sim.step(AttemptOutcome(attempt_id=attempt, outcome="not_sent", error_code="connect"))
    again = sim.step(AttemptOutcome(attempt_id=attempt, outcome="not_sent", error_code="connect"))
    assert sends(first) == sends(again) == []
    assert sim.deadlines["ack:cpc/p-cpc"] == give_up  # no wait started, no give-up moved
    assert sim.st.cursors["cpc/p-cpc"].attempt == attempt and sim.st.attempts[attempt].not_sent == 2
    assert [log.problem for log in logs(first)] == ["provider failure"] and logs(again) == []
    # when the provider takes it, the wait starts from then
    sim.now += timedelta(seconds=30)
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now + timedelta(minutes=5)


def test_a_failing_provider_is_told_to_the_coordinator_once_by_another_channel() -> None:
    sim = queued_broadcast()
    channels = (ChannelKind.SMS, ChannelKind.VOICE)
    failing = ProviderFailing(outage="twilio#1", channels=channels, detail="connection refused")
    actions = sim.step(failing)
    told = sends(actions)
    assert sorted(s.person_id for s in told) == ["p-acpc", "p-cpc"]
    assert {(s.channel, s.message_kind) for s in told} == {(ChannelKind.EMAIL, "update")}
    assert sim.step(failing) == []  # once per outage, not per message
    # messages it took before the outage still report their delivery: that changes nothing
    sim.step(AttemptOutcome(attempt_id=attempt_of(sim, "cpc/p-cpc"), outcome="accepted"))
    assert sim.step(failing) == []
    # a later outage is a new one, told again
    later = sim.step(ProviderFailing(outage="twilio#2", channels=channels))
    assert len(sends(later)) == 2


def test_a_person_whose_page_never_left_gets_no_stand_down() -> None:
    sim = queued_broadcast(CompletionRule.FIRST)
    out = attempt_of(sim, "network/p-net-lead")
    sim.step(AttemptOutcome(attempt_id=out, outcome="accepted"))  # only this page has left
    actions = sim.confirm("p-cpc")
    assert [s.person_id for s in sends(actions) if s.message_kind == "stand_down"] == ["p-net-lead"]
