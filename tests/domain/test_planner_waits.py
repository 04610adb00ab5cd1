"""When an acknowledgement wait starts: at the send, never at queueing (issue 12).

A US long code sends 1 SMS/s; at 300 people behind one sender the last message leaves minutes after
it was queued. Waits counted from queueing gave up on people who had not received anything yet.
"""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.events import AttemptOutcome, DeadlineDue, ProviderStatus, Start
from notifier.domain.plan import ChannelKind
from tests.domain.planner_fixture import Sim, logs, sends, snapshot

WAIT = timedelta(minutes=5)  # STANDARD's SMS wait
VALIDITY = timedelta(minutes=30)  # the policy's default validity period


def queued() -> tuple[Sim, str]:
    """Started, with the coordinator's SMS queued and not yet taken by the provider."""
    sim = Sim(snapshot(), accept=False)
    sim.step(Start())
    attempt = sim.st.cursors["cpc/p-cpc"].attempt
    assert attempt is not None
    return sim, attempt


def test_queueing_time_does_not_count_against_the_person() -> None:
    sim, attempt = queued()
    queued_at = sim.now
    sim.now += timedelta(minutes=7)  # longer than the wait: the SMS sat behind a sender's rate
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))
    assert sim.deadlines["ack:cpc/p-cpc"][0] == queued_at + timedelta(minutes=7) + WAIT
    assert sim.st.cursors["cpc/p-cpc"].wait_from == sim.now


def test_while_queued_only_the_give_up_bound_runs() -> None:
    sim, _ = queued()
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now + VALIDITY
    assert sim.st.cursors["cpc/p-cpc"].wait == WAIT and sim.st.cursors["cpc/p-cpc"].wait_from is None


def test_a_message_the_provider_never_takes_is_given_up_after_its_validity_period() -> None:
    sim, attempt = queued()
    actions = sim.fire("ack:cpc/p-cpc")
    assert [s.channel for s in sends(actions)] == [ChannelKind.VOICE]
    [given_up] = [log for log in logs(actions) if log.step == "not sent"]
    assert f"attempt {attempt}" in given_up.outcome and given_up.problem == "not sent"


def test_the_give_up_deadline_is_stale_once_the_wait_started() -> None:
    sim, attempt = queued()
    _, give_up_fence = sim.deadlines["ack:cpc/p-cpc"]
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))
    # a give-up deadline already taken from the table before the answer arrived changes nothing
    assert sim.step(DeadlineDue(key="ack:cpc/p-cpc", fence=give_up_fence)) == []
    assert sim.st.cursors["cpc/p-cpc"].attempt == attempt


def test_a_status_callback_that_overtakes_the_answer_starts_the_wait() -> None:
    sim, attempt = queued()
    sim.now += timedelta(seconds=3)
    sim.step(ProviderStatus(attempt_id=attempt, status="sent"))
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now + WAIT
    sim.now += timedelta(seconds=1)
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))  # the late answer: no restart
    assert sim.deadlines["ack:cpc/p-cpc"][0] == sim.now - timedelta(seconds=1) + WAIT


def test_the_time_limit_still_runs_from_the_start() -> None:
    sim, attempt = queued()
    start = sim.now
    sim.now += timedelta(minutes=7)
    sim.step(AttemptOutcome(attempt_id=attempt, outcome="accepted"))
    assert sim.deadlines["time_limit"][0] == start + timedelta(minutes=30)
