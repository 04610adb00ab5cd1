"""Issue 12: the webhook spool absorbs bursts (SQLite). With `spool.burst` at 1, every webhook
that arrives while another is being applied is spooled, answered 200 at once, and applied later
in order: everyone's reply still counts, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from notifier.sandbox import preset
from notifier.settings import SpoolSettings
from notifier.store.engine_tables import responses
from tests.reliability.harness import numbers_for
from tests.reliability.inprocess import faulty_system


async def test_a_burst_of_webhooks_is_spooled_and_every_reply_applied_once(tmp_path: Path) -> None:
    numbers = numbers_for(40)
    async with faulty_system(
        tmp_path,
        numbers,
        "[{kind: sms, wait: 30m}]",
        personas=[preset("confirms", n, reply_after=0.5) for n in numbers],
        spool=SpoolSettings(burst=1),
    ) as system:
        runtime = system.runtime
        assert runtime.spool is not None and runtime.db is not None
        activation_id = await system.activate()
        view = await system.finished(activation_id, timeout=60)
        assert view.status == "completed"
        assert {p.status for node in view.nodes for p in node.people} == {"acknowledged"}
        spool = runtime.spool
        assert spool.counts["appended"] > 0, "no webhook was spooled: the burst bound was never reached"
        assert all(i.callback.status == 200 for i in system.sandbox.inbound)
        # drained = nothing pending and the file reset; `pending` turns False when the last entry
        # is applied, a moment before the drain truncates the file, so wait for both together
        spool_file = tmp_path / f"webhooks-{runtime.settings.http_port}.spool"
        for _ in range(600):
            if not spool.pending and spool_file.stat().st_size == 0:
                break
            await asyncio.sleep(0.05)
        assert not spool.pending, "the spool was not drained"
        async with runtime.db.connect() as conn:
            stored = await conn.execute(
                select(func.count()).select_from(responses).where(responses.c.activation_id == activation_id)
            )
            assert stored.scalar_one() == len(numbers)
        assert spool_file.stat().st_size == 0, "the drained spool file was not reset"
