"""The planner state is stored as a checkpoint plus a journal of per-step deltas (migration 0005).

Against the real engine on SQLite: the state read back from the store (checkpoint + journal) is the
state the engine holds in memory after every kind of step; an engine that lost its cache (a
restart, a second instance) carries on from the store; closing checkpoints and empties the journal.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import AckOnBehalf, Close
from notifier.domain.state import ActivationState
from notifier.runtime import Runtime
from notifier.store import activation_repo
from notifier.store.engine_tables import activation_changes, activation_documents
from tests.engine.conftest import running_system


def counted(
    write: Callable[..., Awaitable[None]], name: str, writes: Counter[str]
) -> Callable[..., Awaitable[None]]:
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        writes[name] += 1
        await write(*args, **kwargs)

    return wrapper


async def stored_state(runtime: Runtime, activation_id: str) -> tuple[ActivationState, int, int]:
    """(state, journal rows, row revision) as the store has them; revision -1 when a step committed
    while they were being read (SQLite reads each statement at its own snapshot: the row, the
    checkpoint and the journal could then be of different revisions)."""
    assert runtime.engine is not None
    async with runtime.engine.db.connect() as conn:
        row = await activation_repo.load_activation_row(conn, activation_id)
        journal = (
            await conn.execute(
                select(func.count()).where(activation_changes.c.activation_id == activation_id)
            )
        ).scalar_one()
        after = await activation_repo.load_activation_row(conn, activation_id)
    revision = int(row.revision) if after.revision == row.revision else -1
    return ActivationState.model_validate(row.state), int(journal), revision


async def settled(runtime: Runtime, activation_id: str) -> tuple[ActivationState, int]:
    """The stored state once the engine's cached one is at the same revision (status callbacks
    may still be landing after the outbox is empty), checked equal to it."""
    assert runtime.engine is not None
    for _ in range(100):
        stored, journal, revision = await stored_state(runtime, activation_id)
        cached = runtime.engine.stepper._states.get(activation_id)
        if cached is not None and cached.revision == revision:
            assert stored == cached.state
            return stored, journal
        await asyncio.sleep(0.05)
    raise AssertionError("the engine's cached state never caught up with the store")


async def test_store_and_memory_agree_and_a_cold_engine_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: Counter[str] = Counter()
    for name in ("save_state", "append_change"):
        monkeypatch.setattr(activation_repo, name, counted(getattr(activation_repo, name), name, writes))
    async with running_system(tmp_path) as runtime:
        engine = runtime.engine
        assert engine is not None
        activation_id = await engine.activate("all-staff", ActivationKind.INCIDENT, started_by="test")
        await engine.wait_idle(timeout=30)
        stored, journal = await settled(runtime, activation_id)
        # whether the very last step happened to be a checkpoint depends on how the status callbacks
        # were batched into steps (the tree is small: a checkpoint every few steps), so the rule is
        # checked on the writes: steps append deltas, a checkpoint is the exception
        assert writes["save_state"] < writes["append_change"], (
            f"status callbacks should have been journalled, not checkpointed each time: {dict(writes)}"
        )
        assert engine.stepper._states[activation_id].journal >= journal  # entries >= rows

        people = list(stored.cursors.values())
        engine.stepper.forget(activation_id)  # as after a restart: the next step reads the store
        result = await engine.handle(
            activation_id, [AckOnBehalf(person_id=people[0].person, by="test", response="confirm")]
        )
        assert result is not None and people[0].person in result.state.reached
        stored, _ = await settled(runtime, activation_id)
        assert people[0].person in stored.reached

        await engine.handle(activation_id, [Close(by="test")])
        await engine.wait_idle(timeout=30)
        stored, journal, _ = await stored_state(runtime, activation_id)
        assert stored.status == "closed"
        async with engine.db.connect() as conn:
            checkpoint = (
                await conn.execute(
                    select(activation_documents.c.state).where(
                        activation_documents.c.activation_id == activation_id
                    )
                )
            ).scalar_one()
        # closing checkpoints; a later callback (the return-to-normal messages) may journal again
        assert ActivationState.model_validate(checkpoint).status == "closed"
        assert journal <= 3
