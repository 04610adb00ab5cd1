"""Issue 12: a send whose outcome is unknown is looked up at the provider before anything else.

A plain HTTP 500 or a timeout says nothing about whether Twilio created the message. The engine
looks such a send up (the sandbox's Messages list, through the real SDK) a moment after it failed,
before the planner hears of it: a message the provider has is recorded as sent (and the person's
wait starts), one it does not have is sent again on the same attempt, so everyone is reached
exactly once and nobody is escalated because of the provider. A message found absent whose
activation or node no longer needs it is withdrawn instead of sent.

Runs on SQLite and PostgreSQL (`db_url`) where the store matters, against the sandbox on a scaled
clock; the assertions compare counts and stored states, never the wall clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from notifier.domain.events import AckOnBehalf, Cancel
from notifier.sandbox import Faults, preset
from notifier.store.engine_tables import outbox
from tests.reliability.harness import numbers_for
from tests.reliability.inprocess import SMS_THEN_VOICE, confirming_broadcast, faulty_system


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        if loop.time() > end:
            raise AssertionError(f"{what}: not in {timeout} s")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_thirty_percent_plain_500_everyone_reached_once_nobody_escalated(
    tmp_path: Path, db_url: str
) -> None:
    """30 % of create requests answered a plain 500: during the first half of the broadcast Twilio
    created nothing for them, during the second it created the message and still answered 500."""
    people = 200
    faults = Faults(seed=500, error_5xx_ratio=0.3)
    async with confirming_broadcast(
        tmp_path,
        db_url,
        faults,
        people=people,
        rate_per_sender=20,  # 100 SMS/s: the broadcast takes a few seconds to leave
    ) as system:
        sandbox, numbers = system.sandbox, system.numbers
        activation_id = await system.activate()
        await sandbox.state.wait_for(lambda: len(sandbox.messages) >= people // 2, timeout=120)
        faults.error_5xx_after_create = True
        view = await system.finished(activation_id, timeout=300)
        engine = system.runtime.engine
        assert engine is not None
        await engine.wait_idle(30)
        rows = await system.outbox(activation_id)
        activity = await system.activity(activation_id)
        creates = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
        messages = list(sandbox.messages)
        calls = list(sandbox.calls)
        reconciled = dict(engine.dispatcher.reconciled)
    answered_500 = sum(1 for r in creates if r.status == 500)
    not_created = len(creates) - len(messages)  # every other create request made its message
    created_500 = answered_500 - not_created
    assert {r.status for r in creates} <= {201, 500}
    assert not_created >= 10 and created_500 >= 10, (not_created, created_500, "the faults proved nothing")
    # everyone reached exactly once, nobody escalated, the activation completed by their answers
    assert Counter(m.to for m in messages) == Counter(numbers), "lost or duplicated SMS"
    assert calls == [] and {r.channel for r in rows} == {"sms"}, "someone was escalated by the faults"
    assert view.status == "completed" and view.counts["nodes_acknowledged"] == people
    assert view.counts.get("nodes_unreachable", 0) == 0
    # each 500 was looked up: found -> recorded with the provider's id; absent -> sent again
    assert reconciled == {"found": created_500, "requeued": not_created, "unverifiable": 0}
    assert {r.status for r in rows} == {"sent"}
    assert {r.provider_id for r in rows} == {m.sid for m in messages}
    assert sum(r.tries - 1 for r in rows) == not_created
    assert sum(1 for r in rows if r.detail == "found at the provider") == created_500
    assert not any(a.step == "sent after stop" for a in activity)


async def test_timed_out_sends_the_provider_created_are_found_not_resent(tmp_path: Path) -> None:
    """Answers slower than the client timeout: Twilio created every message after we gave up."""
    numbers = numbers_for(6)
    faults = Faults(seed=3, slow_seconds=1.0)  # wall seconds; the client gives up after 0.4 s
    personas = [preset("confirms", n) for n in numbers]
    async with faulty_system(
        tmp_path, numbers, SMS_THEN_VOICE, faults=faults, personas=personas, twilio_timeout=0.4
    ) as system:
        engine = system.runtime.engine
        assert engine is not None
        activation_id = await system.activate()
        view = await system.finished(activation_id)
        await engine.wait_idle(30)  # (the answers may come before the lookups end)
        rows = await system.outbox(activation_id)
        activity = await system.activity(activation_id)
        messages = list(system.sandbox.messages)
        reconciled = dict(engine.dispatcher.reconciled)
    assert view.status == "completed" and view.counts["nodes_acknowledged"] == len(numbers)
    assert Counter(m.to for m in messages) == Counter(numbers) and not system.sandbox.calls
    assert reconciled == {"found": len(numbers), "requeued": 0, "unverifiable": 0}
    assert {(r.channel, r.status, r.detail, r.tries) for r in rows} == {
        ("sms", "sent", "found at the provider", 1)
    }
    assert {r.provider_id for r in rows} == {m.sid for m in messages}
    # they left before the answers that acknowledged their people: not "sent after stop"
    assert not any(a.step == "sent after stop" for a in activity)


async def test_a_500_found_absent_after_its_activation_was_cancelled_is_withdrawn(tmp_path: Path) -> None:
    numbers = numbers_for(8)
    faults = Faults(seed=1, error_5xx_ratio=1.0)  # every create answered 500, nothing created
    async with faulty_system(
        tmp_path,
        numbers,
        SMS_THEN_VOICE,
        faults=faults,
        personas=[preset("confirms", n) for n in numbers],
    ) as system:
        engine = system.runtime.engine
        assert engine is not None
        engine.dispatcher.reconciler.settle = 3.0  # long enough to cancel while they are looked up
        activation_id = await system.activate()

        async def all_answered_500() -> bool:
            return sum(1 for r in system.sandbox.requests if r.status == 500) >= len(numbers)

        await _until(all_answered_500, 30, "every SMS answered 500")
        faults.error_5xx_ratio = 0.0  # a resend would now go through
        assert engine.dispatcher.in_flight == len(numbers)  # held while they are looked up
        await engine.handle(activation_id, [Cancel(by="test", reason="resolved")])
        await engine.wait_idle(30)
        await asyncio.sleep(0.5)  # a resend still on its way (60 engine seconds) would show now
        rows = await system.outbox(activation_id)
        reconciled = dict(engine.dispatcher.reconciled)
    assert reconciled == {"found": 0, "requeued": len(numbers), "unverifiable": 0}
    assert {r.status for r in rows} == {"withdrawn"} and len(rows) == len(numbers)
    assert system.sandbox.messages == [], "a message went out after its activation was cancelled"
    assert len(system.sandbox.requests) == len(numbers)  # no create request after the cancel


async def test_rows_left_sending_that_stopped_mattering_are_withdrawn_the_rest_sent(
    tmp_path: Path, db_url: str
) -> None:
    """A dead instance claimed every SMS and died before sending; meanwhile half the people were
    acknowledged on their behalf. The provider has none of them: only the others are sent."""
    numbers = numbers_for(8)
    faults = Faults(seed=2, twilio_down=True)  # the first sends are refused (503, not created)
    async with faulty_system(
        tmp_path,
        numbers,
        "[{kind: sms, wait: 30m}]",
        faults=faults,
        personas=[preset("never_answers", n) for n in numbers],
        database_url=db_url,
    ) as system:
        runtime = system.runtime
        engine = runtime.engine
        assert engine is not None and runtime.db is not None
        activation_id = await system.activate()

        async def dead_instance_claimed_all() -> bool:
            """The dead instance's claim: sending under its name, its lease still running (a row
            our dispatcher is retrying is taken once it is back in the queue)."""
            later = runtime.clock.now() + timedelta(hours=1)
            async with runtime.db.begin() as conn:
                await conn.execute(
                    update(outbox)
                    .where((outbox.c.activation_id == activation_id) & (outbox.c.status == "pending"))
                    .values(
                        status="sending", claimed_by="w-dead", lease_until=later, tries=outbox.c.tries + 1
                    )
                )
            rows = await system.outbox(activation_id)
            return len(rows) == len(numbers) and all(r.claimed_by == "w-dead" for r in rows)

        await _until(dead_instance_claimed_all, 30, "every SMS claimed by the dead instance")
        rows = await system.outbox(activation_id)
        assert system.sandbox.messages == []
        acked = {r.person_id for r in rows[: len(rows) // 2]}
        for person in sorted(acked):
            await engine.handle(activation_id, [AckOnBehalf(person_id=person, by="test")])
        faults.twilio_down = False
        async with runtime.db.begin() as conn:  # ... and then its lease runs out
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(lease_until=runtime.clock.now())
            )
        engine.stepper.outbox_changed.set()

        async def settled() -> bool:
            return all(r.status in ("sent", "withdrawn") for r in await system.outbox(activation_id))

        await _until(settled, 60, "every row sent or withdrawn")
        await engine.wait_idle(30)
        final = {r.person_id: r for r in await system.outbox(activation_id)}
        reconciled = dict(engine.dispatcher.reconciled)
        sent_to = Counter(m.to for m in system.sandbox.messages)
    assert reconciled == {"found": 0, "requeued": len(numbers), "unverifiable": 0}
    assert {p for p, r in final.items() if r.status == "withdrawn"} == acked
    assert {p for p, r in final.items() if r.status == "sent"} == set(final) - acked
    assert sent_to == Counter(r.address for p, r in final.items() if p not in acked)
