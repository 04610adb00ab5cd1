"""Write a scripted activation into the engine's tables, as the engine itself would have."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.store import activation_repo
from notifier.store.engine_tables import activity_log
from tests.reports.scenario import Driver


async def store(conn: AsyncConnection, driver: Driver, activation_id: str, ref: str) -> None:
    record = driver.record(activation_id, ref)
    await activation_repo.insert_activation(
        conn,
        {
            "id": record.id,
            "ref": record.ref,
            "tree_id": record.tree_id,
            "kind": record.kind,
            "status": record.status,
            "started_at": record.started_at,
            "completed_at": record.completed_at,
            "closed_at": record.closed_at,
            "started_by": record.started_by,
            "reason": record.reason,
            "fields": record.fields,
            "revision": 1,
            "updated_at": driver.now,
        },
        record.snapshot.model_dump(mode="json"),
        record.state.model_dump(mode="json"),
    )
    await conn.execute(
        insert(activity_log),
        [
            {
                "activation_id": activation_id,
                "at": r.at,
                "step": r.step,
                "who": r.who,
                "outcome": r.outcome,
                "problem": r.problem,
            }
            for r in driver.log
        ],
    )
