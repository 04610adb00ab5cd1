"""Random event sequences: the planner never raises, never sends outside the snapshot, and keeps
exactly one pending deadline per open cursor (and none for any other)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.domain.calltree import Completion, CompletionRule, Mode
from notifier.domain.events import (
    AckOnBehalf,
    AttemptOutcome,
    Cancel,
    Close,
    DeadlineDue,
    DeliveryStatus,
    Event,
    ProviderFailing,
    ProviderStatus,
    Reply,
    Send,
    Start,
    Withdraw,
)
from notifier.domain.plan import ChannelKind
from notifier.domain.progress import people_of
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import TIME_LIMIT_KEY
from tests.domain.planner_fixture import STANDARD, Sim, nist_tree, snapshot

COMPLETIONS = (
    Completion(),
    Completion(rule=CompletionRule.FIRST),
    Completion(rule=CompletionRule.QUORUM, quorum=4),
)


@cache
def variant(mode: Mode, completion: int, flags: int) -> Snapshot:
    policy = STANDARD.model_copy(
        update={
            "use_alternates": bool(flags & 1),
            "decline_moves_to_alternate": bool(flags & 2),
            "skip_level": bool(flags & 4),
            "rounds": 1 + (flags & 8) // 8,
        }
    )
    return snapshot(nist_tree(mode=mode, completion=COMPLETIONS[completion]), policies=(policy,))


STATUSES = list(get_args(DeliveryStatus))
OUTCOMES = ["accepted", "invalid", "opted_out", "failed", "unknown", "not_sent"]

ops = st.one_of(
    st.tuples(st.just("reply"), st.integers(0, 40), st.sampled_from(["confirm", "decline"]), st.booleans()),
    st.tuples(st.just("behalf"), st.integers(0, 40), st.sampled_from(["confirm", "decline"])),
    st.tuples(st.just("outcome"), st.integers(0, 60), st.sampled_from(OUTCOMES)),
    st.tuples(st.just("status"), st.integers(0, 60), st.sampled_from(STATUSES)),
    st.tuples(st.just("fire"), st.integers(0, 40)),
    st.tuples(st.just("stale"), st.integers(0, 40), st.integers(-1, 5)),
    st.tuples(st.just("start")),
    st.tuples(st.just("provider_failing"), st.sampled_from(list(ChannelKind))),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("close")),
)  # fmt: skip


def to_event(sim: Sim, op: tuple[object, ...]) -> Event | None:
    people = [*sorted(sim.snap.people), "p-stranger"]
    attempts = sorted(sim.st.attempts, key=lambda a: int(a[1:]))
    deadlines = sorted(sim.deadlines)
    match op:
        case ("reply", int(i), str(response), bool(with_attempt)):
            person = people[i % len(people)]
            mine = [a for a in attempts if sim.st.attempts[a].person == person]
            attempt = mine[-1] if with_attempt and mine else None
            return Reply(person_id=person, response=response, channel=ChannelKind.SMS, attempt_id=attempt)  # type: ignore[arg-type]
        case ("behalf", int(i), str(response)):
            return AckOnBehalf(person_id=people[i % len(people)], by="p-cpc", response=response)  # type: ignore[arg-type]
        case ("outcome", int(i), str(outcome)) if attempts:
            return AttemptOutcome(attempt_id=attempts[i % len(attempts)], outcome=outcome)  # type: ignore[arg-type]
        case ("status", int(i), str(status)) if attempts:
            attempt = attempts[i % len(attempts)]
            return ProviderStatus(attempt_id=attempt, status=status)  # type: ignore[arg-type]
        case ("fire", int(i)) if deadlines:
            key = deadlines[i % len(deadlines)]
            due, fence = sim.deadlines.pop(key)
            sim.now = max(sim.now, due)
            return DeadlineDue(key=key, fence=fence)
        case ("stale", int(i), int(delta)) if deadlines:
            key = deadlines[i % len(deadlines)]
            return DeadlineDue(key=key, fence=sim.deadlines[key][1] - 1 - delta)
        case ("start",):
            return Start()
        case ("provider_failing", ChannelKind() as channel):
            return ProviderFailing(outage=f"{channel}#1", channels=(channel,), detail="connection refused")
        case ("cancel",):
            return Cancel(by="p-cpc", reason="drill over")
        case ("close",):
            return Close(by="p-cpc")
    return None


def check_invariants(sim: Sim, sent: list[Send]) -> None:
    state = sim.st
    for withdraw in (a for a in sim.history if isinstance(a, Withdraw)):
        # only escalation messages are ever withdrawn: never a notice or an all-clear
        assert state.attempts[withdraw.attempt_id].purpose in ("activation", "drill")
    for cursor in state.cursors.values():  # the attempt a cursor waits on is never withdrawn
        assert cursor.attempt is None or state.attempts[cursor.attempt].status != "withdrawn"
    for send in sent:
        person = sim.snap.people[send.person_id]
        assert (send.channel, send.address) in {(c.kind, c.address) for c in person.contacts}
    open_cursors = {c.deadline_key: c.fence for c in state.cursors.values() if c.status == "notifying"}
    pending = {key: fence for key, (_, fence) in sim.deadlines.items() if key.startswith("ack:")}
    assert pending == open_cursors
    for cursor in state.cursors.values():
        if cursor.status != "notifying" or cursor.wait is None:
            continue
        due, _ = sim.deadlines[cursor.deadline_key]
        attempt = state.attempts[cursor.attempt or ""]
        if cursor.wait_from is None:  # not sent yet: only the give-up bound runs, from queueing
            assert attempt.status == "queued"
            assert due == attempt.started_at + sim.snap.nodes[cursor.node].policy.validity_period
        else:  # the wait runs from the moment the provider took the message (or may have)
            assert due == cursor.wait_from + cursor.wait
    if state.status != "open":
        assert open_cursors == {} and TIME_LIMIT_KEY not in sim.deadlines
        assert all(n.status not in ("pending", "notifying") for n in state.nodes.values())
    elif state.started and not state.time_limit_passed:
        assert TIME_LIMIT_KEY in sim.deadlines
    for node in state.nodes.values():
        assert (node.status == "acknowledged") <= (node.acked_by is not None)
        assert node.status != "declined"  # nobody acknowledged: unreachable, whoever declined
    who = people_of(state)  # one definition of the counts: reached and pending are among the notified
    assert set(who.reached) <= set(who.notified) and set(who.pending) <= set(who.notified)


def random_runs(test: Callable[..., None]) -> Callable[..., None]:
    """Random activations and scripts: tree mode, completion rule, policy flags (alternates, decline
    moves on, skip level, rounds), up to 60 operations and the minutes between them."""
    return settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])(
        given(
            mode=st.sampled_from([Mode.CASCADE, Mode.BROADCAST]),
            completion=st.integers(0, len(COMPLETIONS) - 1),
            flags=st.integers(0, 15),
            script=st.lists(ops, max_size=60),
            gaps=st.lists(st.integers(0, 20), min_size=60, max_size=60),
        )(test)
    )


@random_runs
def test_random_event_sequences_keep_the_invariants(
    mode: Mode, completion: int, flags: int, script: list[tuple[object, ...]], gaps: list[int]
) -> None:
    sim = Sim(variant(mode, completion, flags), accept=False)
    sim.step(Start())
    check_invariants(sim, [a for a in sim.history if isinstance(a, Send)])
    for op, gap in zip(script, gaps, strict=False):
        sim.now += timedelta(minutes=gap)
        event = to_event(sim, op)
        if event is None:
            continue
        previous = sim.st.status
        actions = sim.step(event)
        check_invariants(sim, [a for a in actions if isinstance(a, Send)])
        assert previous == "open" or sim.st.status != "open"
