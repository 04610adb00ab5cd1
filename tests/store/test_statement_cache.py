"""Large documents are written as statement parameters, never into the statement: SQLAlchemy's
compiled-statement cache keeps the first statement of each shape, with every value written into it,
for as long as the process lives (the first 50,000-person checkpoint, snapshot and plan version:
tens of MB each)."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from notifier.store import activation_repo
from notifier.store import plans as plans_module
from notifier.store.db import EncodedJSON, make_engine, session_factory
from notifier.store.engine_tables import activation_documents
from notifier.store.plans import PlanStore
from tests.store.storehelpers import example_plan

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class _Doc(EncodedJSON):
    __slots__ = ("__weakref__",)


class _Content(dict[str, Any]):
    pass


async def test_activation_documents_are_not_kept_after_they_are_written(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    values = {
        "id": "a-1", "ref": "K7Q", "tree_id": "all-staff", "kind": "incident", "status": "open",
        "started_at": NOW, "started_by": "test", "reason": "", "fields": {}, "revision": 1, "updated_at": NOW,
    }  # fmt: skip
    try:
        snapshot, state, checkpoint = _Doc('{"s": 1}'), _Doc('{"t": 1}'), _Doc('{"t": 2}')
        kept = [weakref.ref(document) for document in (snapshot, state, checkpoint)]
        async with engine.begin() as conn:
            await activation_repo.insert_activation(conn, values, snapshot, state)
            await activation_repo.save_state(conn, "a-1", checkpoint, "open", NOW)
        del snapshot, state, checkpoint
        gc.collect()
        assert [ref() for ref in kept] == [None, None, None]
        async with engine.connect() as conn:
            row = (await conn.execute(select(activation_documents))).one()
        assert (row.activation_id, row.snapshot, row.state) == ("a-1", {"s": 1}, {"t": 2})
    finally:
        await engine.dispose()


async def test_a_plan_version_is_not_kept_after_it_is_stored(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[weakref.ref[_Content]] = []

    def content(plan: Any) -> _Content:
        found = _Content(plan.model_dump(mode="json"))
        written.append(weakref.ref(found))
        return found

    monkeypatch.setattr(plans_module, "canonical_content", content)
    engine = make_engine(migrated_db_url)
    try:
        store = PlanStore(session_factory(engine))
        plan = example_plan()
        assert (await store.import_plan(plan, author="test")).version == 1
        gc.collect()
        assert written and [ref() for ref in written] == [None] * len(written)
        latest = await store.latest()
        assert latest is not None and latest[1] == plan
    finally:
        await engine.dispose()
