"""Issue 12: rows whose send outcome was lost are reconciled with the provider before any resend.

An instance that dies between a provider's answer and storing it leaves its outbox rows `sending`.
The next claim takes them over once their lease has run out and asks the provider (the Twilio
sandbox's list endpoints, through the real SDK) what it created: a message it has is recorded as
sent with its SID and status, and only what it does not have is sent again. A channel whose
provider cannot look up (SMTP) keeps the old bound: its rows are sent again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from notifier.sandbox import preset
from notifier.store.engine_tables import outbox
from tests.reliability.harness import numbers_for
from tests.reliability.inprocess import System, faulty_system

FOUND, GONE = 5, 3  # of 8 SMS: the provider has 5 (results lost), 3 never reached it


async def _settled(system: System, activation_id: str, timeout: float = 20) -> list[object]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        rows = await system.outbox(activation_id)
        if rows and all(r.status not in ("sending", "pending") for r in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"rows still sending: {[(r.attempt_id, r.status) for r in rows]}")


def _nobody_answers(tmp_path: Path, numbers: list[str], methods: str) -> AbstractAsyncContextManager[System]:
    return faulty_system(
        tmp_path, numbers, methods, personas=[preset("never_answers", n) for n in numbers], emails=True
    )


async def _left_sending(system: System, rows: list[Any], **lost: object) -> None:
    """The crash: `rows` left `sending` by an instance that died (its lease has run out), with
    whatever else it never stored (`lost`); the dispatcher is woken to claim them."""
    runtime = system.runtime
    assert runtime.engine is not None and runtime.db is not None
    past = runtime.clock.now() - timedelta(minutes=1)
    async with runtime.db.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in rows]))
            .values(status="sending", claimed_by="w-dead", lease_until=past, **lost)
        )
    runtime.engine.stepper.outbox_changed.set()


async def test_rows_a_dead_instance_left_sending_are_looked_up_before_any_resend(tmp_path: Path) -> None:
    numbers = numbers_for(FOUND + GONE)
    async with _nobody_answers(
        tmp_path, numbers, "[{kind: sms, wait: 30m}, {kind: email, wait: 30m}]"
    ) as system:
        runtime, sandbox = system.runtime, system.sandbox
        assert runtime.engine is not None and runtime.db is not None
        activation_id = await system.activate()
        first = await _settled(system, activation_id)
        sms_rows = [r for r in first if r.channel == "sms"]
        assert len(sms_rows) == FOUND + GONE and all(r.status == "sent" for r in sms_rows)
        sids = {r.id: r.provider_id for r in sms_rows}
        # the crash: results of every row lost; the provider never got the last GONE messages
        gone = {r.address for r in sms_rows[FOUND:]}
        sandbox.state.messages[:] = [m for m in sandbox.messages if m.to not in gone]
        await _left_sending(system, sms_rows, provider_id=None, sent_at=None)
        rows = [r for r in await _settled(system, activation_id) if r.channel == "sms"]

        dispatcher = runtime.engine.dispatcher
        assert dispatcher.reconciled == {"found": FOUND, "requeued": GONE, "unverifiable": 0}
        assert all(r.status == "sent" for r in rows), [(r.attempt_id, r.status) for r in rows]
        for row in rows[:FOUND]:
            assert row.provider_id == sids[row.id], "a message the provider had was not recognised"
        for row in rows[FOUND:]:
            assert row.provider_id and row.provider_id != sids[row.id], "a lost message was not sent again"
        received = Counter(m.to for m in sandbox.messages)
        assert received == Counter(numbers), f"duplicates or losses: {received}"
        view = await system.view(activation_id)
        sms_attempts = [
            a.status for node in view.nodes for p in node.people for a in p.attempts if a.channel == "sms"
        ]
        assert set(sms_attempts) <= {"sent", "delivered"}, sms_attempts


async def test_a_provider_that_cannot_look_up_sends_again(tmp_path: Path) -> None:
    numbers = numbers_for(3)
    async with _nobody_answers(tmp_path, numbers, "[{kind: email, wait: 30m}]") as system:
        runtime, sandbox = system.runtime, system.sandbox
        assert runtime.engine is not None and runtime.db is not None
        activation_id = await system.activate()
        first = await _settled(system, activation_id)
        await sandbox.state.wait_for(lambda: len(sandbox.emails) == 3, timeout=10)
        await _left_sending(system, first)
        rows = await _settled(system, activation_id)
        assert runtime.engine.dispatcher.reconciled == {"found": 0, "requeued": 0, "unverifiable": 3}
        assert all(r.status == "sent" for r in rows), [(r.status, r.detail, r.error_code) for r in rows]
        await sandbox.state.wait_for(lambda: len(sandbox.emails) == 6, timeout=10)  # the old bound
