"""Issue 8, provider faults through the sandbox: 5xx, 429 bursts, rate limits, slow answers, SMTP down.

Whatever the provider does, each message is delivered or ends in a recorded, explained state (an
outbox status with an error code or detail, and an activity-log line), nothing is retried blindly
(no handset gets a message twice), and escalation moves on past a channel that is down.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from notifier.sandbox import Faults, preset
from tests.reliability.harness import numbers_for
from tests.reliability.inprocess import System, faulty_system

SMS_THEN_VOICE = "[{kind: sms, wait: 5m}, {kind: voice, wait: 5m}]"
FINAL = {"sent", "failed", "unknown", "withdrawn"}


async def _check_explained(system: System, activation_id: str, methods: int) -> dict[str, Any]:
    """The common promise: a final state for every row and person, each failure explained."""
    view = await system.finished(activation_id)
    assert system.runtime.engine is not None
    await system.runtime.engine.wait_idle(10)
    assert view.status == "completed", view.counts
    rows = await system.outbox(activation_id)
    activity = await system.activity(activation_id)
    log_text = [f"{a.who} {a.outcome} {a.problem or ''}" for a in activity]
    assert {r.status for r in rows} <= FINAL, [
        (r.person_id, r.channel, r.status, r.message_kind, r.tracked, r.not_before, r.detail)
        for r in rows
        if r.status not in FINAL
    ]
    for row in rows:
        if row.status == "withdrawn":  # given up (or made obsolete) before the provider took it
            assert any(f"attempt {row.attempt_id} not taken" in line for line in log_text), row
        elif row.status != "sent":
            assert row.error_code or row.detail, f"{row.attempt_id} {row.status} without a reason"
        if row.status == "unknown":
            assert any(f"attempt {row.attempt_id} may have been sent" in line for line in log_text), row
    people = {p.person: p.status for node in view.nodes for p in node.people}
    assert set(people.values()) <= {"acknowledged", "exhausted"}, people
    by_person: dict[str, list[Any]] = {}
    for row in rows:
        by_person.setdefault(row.person_id, []).append(row)
    for person, status in people.items():
        mine = by_person[person]
        if status == "exhausted":
            assert all(r.status != "sent" for r in mine), (
                f"{person} was sent to yet never answered",
                [(r.channel, r.status, r.detail) for r in mine],
                "\n".join(line for line in log_text if line.startswith(person)),
            )
            assert any(line.startswith(f"{person} no acknowledgement for") for line in log_text), person
            assert len(mine) == methods, f"{person}: escalation stopped after {len(mine)} method(s)"
    sms = Counter(m.to for m in system.sandbox.messages)
    calls = Counter(c.to for c in system.sandbox.calls)
    assert max(sms.values(), default=0) <= 1, f"a handset got an SMS twice: {sms.most_common(3)}"
    assert max(calls.values(), default=0) <= 1, f"a handset was called twice: {calls.most_common(3)}"
    return people


async def test_thirty_percent_5xx_every_message_looked_up_and_delivered_once(tmp_path: Path) -> None:
    """A plain 500 may or may not have created the message: each is looked up at the provider (here
    it never was created) and sent again on the same attempt, so everyone confirms."""
    numbers = numbers_for(30)
    faults = Faults(seed=30, error_5xx_ratio=0.3)
    personas = [preset("confirms", n) for n in numbers]
    async with faulty_system(tmp_path, numbers, SMS_THEN_VOICE, faults=faults, personas=personas) as system:
        activation_id = await system.activate()
        people = await _check_explained(system, activation_id, 2)
        rows = await system.outbox(activation_id)
        answered_500 = sum(1 for r in system.sandbox.requests if r.status == 500)
    assert answered_500 > 0, "the seed produced no 5xx: the test proved nothing"
    assert {(r.channel, r.status) for r in rows} == {("sms", "sent")}, (
        "an unknown outcome was left unresolved"
    )
    assert sum(r.tries - 1 for r in rows) == answered_500  # each 500 looked up, found absent, sent again
    assert set(people.values()) == {"acknowledged"}


async def test_5xx_after_create_is_not_resent(tmp_path: Path) -> None:
    """Twilio answered 500 yet created the message: we must not send it again (no blind retry)."""
    numbers = numbers_for(10)
    faults = Faults(seed=5, error_5xx_ratio=0.5, error_5xx_after_create=True)
    personas = [preset("confirms", n) for n in numbers]
    async with faulty_system(tmp_path, numbers, SMS_THEN_VOICE, faults=faults, personas=personas) as system:
        activation_id = await system.activate()
        people = await _check_explained(system, activation_id, 2)
        rows = await system.outbox(activation_id)
    found = [r for r in rows if r.detail == "found at the provider"]
    assert found, "no 5xx after create: the test proved nothing"
    assert {r.provider_id for r in found} <= {m.sid for m in system.sandbox.messages}
    assert not any(r.status == "unknown" for r in rows) and all(r.tries == 1 for r in rows)
    # the handsets did get those messages, answered, and their answers count
    assert set(people.values()) == {"acknowledged"}


async def test_429_burst_is_retried_until_everyone_has_exactly_one_message(tmp_path: Path) -> None:
    numbers = numbers_for(20)
    faults = Faults(seed=1)
    faults.next_429s(25)
    personas = [preset("confirms", n) for n in numbers]
    async with faulty_system(
        tmp_path, numbers, "[{kind: sms, wait: 10m}]", faults=faults, personas=personas
    ) as s:
        activation_id = await s.activate()
        people = await _check_explained(s, activation_id, 1)
        rows = await s.outbox(activation_id)
        assert sorted(m.to for m in s.sandbox.messages) == sorted(numbers)
    assert faults.burst_429 == 0, "the burst was not consumed"
    assert {r.status for r in rows} == {"sent"}
    assert sum(r.tries - 1 for r in rows) >= 25, "every 429 is a retry recorded in `tries`"
    assert set(people.values()) == {"acknowledged"}


async def test_provider_rate_limit_is_honoured_by_backing_off(tmp_path: Path) -> None:
    numbers = numbers_for(15)
    faults = Faults(seed=2, rate_limit_per_second=0.05, rate_limit_burst=3)  # per engine-clock second
    personas = [preset("confirms", n) for n in numbers]
    async with faulty_system(
        tmp_path, numbers, "[{kind: sms, wait: 30m}]", faults=faults, personas=personas
    ) as s:
        activation_id = await s.activate()
        people = await _check_explained(s, activation_id, 1)
        rows = await s.outbox(activation_id)
        assert sorted(m.to for m in s.sandbox.messages) == sorted(numbers)
    assert {r.status for r in rows} == {"sent"}
    assert any(r.tries > 1 for r in rows), "the limit never bit: the test proved nothing"
    assert set(people.values()) == {"acknowledged"}


async def test_slow_provider_times_out_is_looked_up_and_escalation_moves_on(tmp_path: Path) -> None:
    """Answers slower than the client timeout: the outcome is unknown, so each send is looked up;
    the provider did create them, so they are recorded as sent (never resent), the waits run
    and, nobody answering, escalation moves on to the call (found the same way)."""
    numbers = numbers_for(6)
    faults = Faults(seed=3, slow_seconds=1.0)  # wall seconds; the client gives up after 0.4 s
    personas = [preset("never_answers", n) for n in numbers]
    async with faulty_system(
        tmp_path, numbers, SMS_THEN_VOICE, faults=faults, personas=personas, twilio_timeout=0.4
    ) as system:
        activation_id = await system.activate()
        view = await system.finished(activation_id)
        assert system.runtime.engine is not None
        await system.runtime.engine.wait_idle(10)
        rows = await system.outbox(activation_id)
        activity = [f"{a.who} {a.outcome}" for a in await system.activity(activation_id)]
        sids = {m.sid for m in system.sandbox.messages} | {c.sid for c in system.sandbox.calls}
        sms = Counter(m.to for m in system.sandbox.messages)
        calls = Counter(c.to for c in system.sandbox.calls)
    assert {r.channel for r in rows} == {"sms", "voice"}, "escalation did not reach the voice step"
    assert {(r.status, r.detail, r.tries) for r in rows} == {("sent", "found at the provider", 1)}
    assert {r.provider_id for r in rows} == sids
    assert sms == calls == Counter(numbers), "a handset got a message or a call twice, or none"
    people = {p.person: p.status for node in view.nodes for p in node.people}
    assert set(people.values()) == {"exhausted"}
    for person in people:
        assert any(line.startswith(f"{person} no acknowledgement for") for line in activity), person


async def test_smtp_refusing_connections_is_retried_until_the_give_up_then_sms(tmp_path: Path) -> None:
    """A relay that refuses connections never took the email: the same attempt is retried (the
    person's 30-minute email wait never starts) until the policy's validity period gives it up;
    then the SMS goes, and the email is withdrawn from the queue."""
    numbers = numbers_for(5)
    personas = [preset("confirms", n) for n in numbers]
    methods = "[{kind: email, wait: 30m}, {kind: sms, wait: 5m}]"
    async with faulty_system(
        tmp_path,
        numbers,
        methods,
        personas=personas,
        smtp_up=False,
        emails=True,
        policy="validity_period: 2m",
    ) as system:
        activation_id = await system.activate()
        people = await _check_explained(system, activation_id, 2)
        rows = await system.outbox(activation_id)
        view = await system.finished(activation_id)
    emails = [r for r in rows if r.channel == "email"]
    sms = [r for r in rows if r.channel == "sms"]
    assert len(emails) == len(sms) == len(numbers)
    assert {r.status for r in emails} == {"withdrawn"}
    assert all(r.error_code == "connect" for r in emails)  # refused, retried, then given up
    started = view.started_at
    # the SMS follows the give-up (2 minutes), not the 30-minute email wait
    delays = [(r.created_at.replace(tzinfo=started.tzinfo) - started).total_seconds() for r in sms]
    assert all(110 <= d < 300 for d in delays), delays
    assert set(people.values()) == {"acknowledged"}
