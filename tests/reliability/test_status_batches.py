"""Issue 19: a batch of spooled status callbacks is applied as one step per activation (their
receipts in one statement), each callback once: twins in the batch and replays in a later batch
are acknowledged and ignored, as one at a time."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from notifier.api.spool_segments import SegmentWriter
from notifier.api.webhook_spool import encode_entry
from notifier.clock import RealClock
from notifier.store.engine_tables import webhook_receipts
from tests.reliability.harness import ACCOUNT_SID, numbers_for
from tests.reliability.inprocess import faulty_system


async def test_status_callbacks_of_a_batch_are_one_step_per_activation_and_each_applied_once(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    numbers = numbers_for(8)
    async with faulty_system(tmp_path, numbers, "[{kind: sms, wait: 30m}]") as system:
        runtime = system.runtime
        assert runtime.applier is not None and runtime.applier_task is not None
        assert runtime.engine is not None and runtime.service is not None and runtime.db is not None
        runtime.applier_task.cancel()  # this test runs the batches itself
        activation_id = await system.activate()
        await system.sandbox.state.wait_for(lambda: len(system.sandbox.messages) == len(numbers), 30)
        await runtime.engine.wait_idle(30)
        rows = await system.outbox(activation_id)
        assert len(rows) == len(numbers)
        await asyncio.sleep(0.5)  # the sandbox's own callbacks (to the daemon) are in
        steps: list[str] = []
        runtime.engine.stepper.listeners.append(lambda result: steps.append(result.activation_id))
        responses = runtime.service.responses
        writer = SegmentWriter(runtime.applier.directory, "w9", max_bytes=1_000_000)
        writer.open()

        def status(row_id: int, attempt_id: str, word: str) -> bytes:
            params = {"MessageSid": f"SMB{row_id:031d}", "MessageStatus": word, "AccountSid": ACCOUNT_SID}
            return encode_entry("status", f"{activation_id}.{attempt_id}", params, RealClock().now())

        for word in ("sent", "delivered"):
            for row in rows:
                await writer.append(status(row.id, row.attempt_id, word))
                await writer.append(status(row.id, row.attempt_id, word))  # its twin
        ignored = responses.replays_ignored
        assert await runtime.applier.apply_batch() == 4 * len(rows)
        assert steps.count(activation_id) == 1  # every callback of the batch in one step
        assert responses.replays_ignored - ignored == 2 * len(rows)
        async with runtime.db.connect() as conn:
            found = set(
                (await conn.execute(select(webhook_receipts.c.provider_sid, webhook_receipts.c.status))).all()
            )
        mine = {(f"SMB{row.id:031d}", word) for row in rows for word in ("sent", "delivered")}
        assert mine <= found
        for row in rows:  # replayed in a later batch: nothing applied
            await writer.append(status(row.id, row.attempt_id, "delivered"))
        assert await runtime.applier.apply_batch() == len(rows)
        assert responses.replays_ignored - ignored == 3 * len(rows)
        assert steps.count(activation_id) == 1
        assert runtime.applier.counts["applied"] == 5 * len(rows)
        writer.close()
