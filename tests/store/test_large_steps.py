"""A 50,000-person broadcast's first step writes 50,000 deadlines in one transaction; PostgreSQL
(asyncpg) refuses statements with more than 32,767 parameters, which `IN (...)` lists of that size
would need. The engine's SQL splits them; checked here on both stores with 40,000 keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from notifier.store import activation_repo, outbox_repo
from notifier.store.db import EncodedJSON, make_engine
from notifier.store.engine_tables import activations, deadlines, opt_outs

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
KEYS = [f"ack:p{i:06d}/p{i:06d}" for i in range(40_000)]


async def test_forty_thousand_deadlines_in_one_step(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(activations).values(
                    id="a-large", ref="L4R", tree_id="all-staff", kind="incident", status="open",
                    started_at=NOW, started_by="test", reason="", fields={}, revision=0, updated_at=NOW,
                )
            )  # fmt: skip
            await activation_repo.upsert_deadlines(conn, "a-large", [(k, NOW, 1) for k in KEYS])
            await activation_repo.upsert_deadlines(
                conn, "a-large", [(k, NOW, 2) for k in KEYS]
            )  # replaces them
            await conn.execute(insert(opt_outs).values(address="+32470000003", opted_out_at=NOW))
            numbers = [f"+3247{i:07d}" for i in range(40_000)]
            assert await outbox_repo.opted_out_among(conn, numbers) == {"+32470000003"}
        async with engine.begin() as conn:
            count = select(func.count()).select_from(deadlines)
            assert (await conn.execute(count)).scalar_one() == len(KEYS)
            assert (await conn.execute(select(func.max(deadlines.c.fence)))).scalar_one() == 2
            # a deadline whose fence moved on since it fired is not consumed
            await activation_repo.consume_deadlines(conn, "a-large", [(KEYS[0], 1), (KEYS[1], 3)])
            assert (await conn.execute(count)).scalar_one() == len(KEYS)
            await activation_repo.consume_deadlines(conn, "a-large", [(k, 2) for k in KEYS[:35_000]])
            await activation_repo.delete_deadlines(conn, "a-large", KEYS[35_000:])
            assert (await conn.execute(count)).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_a_pre_encoded_snapshot_reads_back_as_the_document(migrated_db_url: str) -> None:
    """The start call stores a large snapshot as JSON text pydantic encoded (`EncodedJSON`): both
    stores keep it as the JSON document, not as a JSON string holding it."""
    snapshot = {"tree_id": "all-staff", "nodes": {f"n{i}": {"holders": [f"p{i}"]} for i in range(2000)}}
    engine = make_engine(migrated_db_url)
    try:
        async with engine.begin() as conn:
            await activation_repo.insert_activation(
                conn,
                {
                    "id": "a-enc", "ref": "E2C", "tree_id": "all-staff", "kind": "incident", "status": "open",
                    "started_at": NOW, "started_by": "test", "reason": "", "fields": {}, "revision": 0,
                    "updated_at": NOW,
                },
                EncodedJSON(json.dumps(snapshot)),
                EncodedJSON('{"status": "open", "start_left": 1900}'),
            )  # fmt: skip
        async with engine.connect() as conn:
            stored = await activation_repo.load_activation_documents(conn, "a-enc")
        assert stored.snapshot == snapshot
        assert stored.state == {"status": "open", "start_left": 1900}
    finally:
        await engine.dispose()
