"""One engine step: lock the activation, run the planner over events, write everything at once.

This is the only place where planner decisions become rows. State, outbox rows, deadlines and the
activity log are written in one transaction, so after a crash either all of a step happened or none
of it did; the dispatcher and the deadline waiter only ever act on committed rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.clock import Clock
from notifier.domain.events import (
    Completed,
    Event,
    Log,
    Schedule,
    Send,
    TimeLimitPassed,
    Unschedule,
)
from notifier.domain.planner import decide_many
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState
from notifier.engine import repo

Renderer = Callable[[Snapshot, dict[str, Any], str, str, Send], dict[str, Any]]
"""(snapshot, activation fields, activation id, ref, send) -> the stored message (text, subject, html)."""


@dataclass
class StepResult:
    activation_id: str
    state: ActivationState
    actions: list[Any] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(1 for a in self.actions if isinstance(a, Send))


class Stepper:
    """Runs planner steps against the store. Shared by the engine, the dispatcher and the webhooks."""

    def __init__(self, db: AsyncEngine, clock: Clock, render: Renderer) -> None:
        self.db = db
        self.clock = clock
        self.render = render
        self._snapshots: dict[str, Snapshot] = {}
        # parsed state per activation with the row revision it was read at: a step re-validates the
        # JSON only when another writer (a second instance, a restart) changed the row meanwhile
        self._states: dict[str, tuple[int, ActivationState]] = {}
        self._queued: dict[str, list[tuple[list[Any], list[tuple[str, int]], Any, asyncio.Future[Any]]]] = {}
        self._draining: set[str] = set()
        self._drainers: set[asyncio.Task[None]] = set()
        # SQLite has one writer per file; serialising our own steps avoids lock-upgrade deadlocks.
        self._lock = asyncio.Lock() if db.dialect.name == "sqlite" else None
        self.listeners: list[Callable[[StepResult], None]] = []
        self.outbox_changed = asyncio.Event()
        self.deadlines_changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, serialised on SQLite."""
        if self._lock is None:
            async with self.db.begin() as conn:
                yield conn
            return
        async with self._lock, self.db.begin() as conn:
            yield conn

    def snapshot_of(self, activation_id: str, raw: dict[str, Any], *, cache: bool = True) -> Snapshot:
        """The parsed snapshot; only activations still running are kept in the cache."""
        snap = self._snapshots.get(activation_id)
        if snap is None:
            snap = Snapshot.model_validate(raw)
            if cache:
                self._snapshots[activation_id] = snap
        return snap

    async def step(
        self,
        activation_id: str,
        events: Sequence[Event],
        *,
        fired: Sequence[tuple[str, int]] = (),
        before_save: Callable[[AsyncConnection], Any] | None = None,
    ) -> StepResult | None:
        """Apply `events` to one activation in one transaction; `fired` deadlines are consumed."""
        with structlog.contextvars.bound_contextvars(activation_id=activation_id):
            return await self._step(activation_id, events, fired, before_save)

    async def _step(
        self,
        activation_id: str,
        events: Sequence[Event],
        fired: Sequence[tuple[str, int]],
        before_save: Callable[[AsyncConnection], Any] | None,
    ) -> StepResult | None:
        async with self.transaction() as conn:
            row = await repo.lock_activation(conn, activation_id)
            if row is None:
                return None
            cached = self._states.get(activation_id)
            if cached is not None and cached[0] == row.revision and activation_id in self._snapshots:
                state = cached[1]
                snapshot = self._snapshots[activation_id]
            else:
                full = await repo.load_activation_documents(conn, activation_id)
                snapshot = self.snapshot_of(activation_id, full.snapshot)
                state = ActivationState.model_validate(full.state)
            now = self.clock.now()
            decision = decide_many(snapshot, state, events, now)
            state, actions = decision.state, list(decision.actions)
            await repo.consume_deadlines(conn, activation_id, fired)
            await self.apply(conn, row, snapshot, actions, now)
            extra: dict[str, Any] = {}
            if state.completed_at is not None and row.completed_at is None:
                extra["completed_at"] = state.completed_at
            if state.status == "closed" and row.closed_at is None:
                extra["closed_at"] = now
            if before_save is not None:
                await before_save(conn)
            await repo.save_state(
                conn, activation_id, state.model_dump(mode="json"), state.status, now, **extra
            )
        if state.status in ("closed", "cancelled"):
            self.forget(activation_id)  # a finished activation leaves the caches (long-running daemon)
        else:
            self._states[activation_id] = (row.revision + 1, state)
        result = StepResult(activation_id, state, actions)
        self._notify(result)
        return result

    async def apply(
        self, conn: AsyncConnection, row: Any, snapshot: Snapshot, actions: Sequence[Any], now: datetime
    ) -> None:
        """Turn planner actions into outbox rows, deadlines and activity-log rows."""
        outbox_rows: list[dict[str, Any]] = []
        schedule: dict[str, tuple[str, datetime, int]] = {}
        unschedule: set[str] = set()
        log_rows: list[dict[str, Any]] = []
        for action in actions:
            if isinstance(action, Send):
                message = self.render(snapshot, row.fields, row.id, row.ref, action)
                outbox_rows.append(
                    {
                        "activation_id": row.id,
                        "attempt_id": action.attempt_id,
                        "person_id": action.person_id,
                        "channel": str(action.channel),
                        "address": action.address,
                        "message_kind": str(action.message_kind),
                        "message": message,
                        "tracked": 1,
                        "status": "pending",
                        "not_before": now,
                        "tries": 0,
                        "created_at": now,
                    }
                )
            elif isinstance(action, Schedule):
                schedule[action.key] = (action.key, action.due_at, action.fence)
                unschedule.discard(action.key)
            elif isinstance(action, Unschedule):
                schedule.pop(action.key, None)
                unschedule.add(action.key)
            elif isinstance(action, Log):
                log_rows.append(
                    _log_row(row.id, now, action.step, action.who, action.outcome, action.problem)
                )
            elif isinstance(action, Completed):
                log_rows.append(
                    _log_row(row.id, now, "completed", "system", f"completion rule {action.rule} met", None)
                )
            elif isinstance(action, TimeLimitPassed):
                log_rows.append(
                    _log_row(row.id, now, "time_limit", "system", "prescribed time limit passed", None)
                )
        await repo.insert_outbox(conn, outbox_rows)
        await repo.delete_deadlines(conn, row.id, unschedule)
        await repo.upsert_deadlines(conn, row.id, list(schedule.values()))
        await repo.insert_log(conn, log_rows)

    def _notify(self, result: StepResult) -> None:
        if any(isinstance(a, Send) for a in result.actions):
            self.outbox_changed.set()
        if any(isinstance(a, Schedule | Unschedule) for a in result.actions):
            self.deadlines_changed.set()
        for listener in self.listeners:
            try:
                listener(result)
            except Exception:  # a metrics or MQTT listener must never break a step
                continue

    def forget(self, activation_id: str) -> None:
        self._snapshots.pop(activation_id, None)
        self._states.pop(activation_id, None)

    async def submit(
        self,
        activation_id: str,
        events: Sequence[Event],
        fired: Sequence[tuple[str, int]] = (),
        before_save: Callable[[AsyncConnection], Any] | None = None,
    ) -> StepResult | None:
        """Like `step`, with group commit: events for one activation that arrive while a step of it
        is running are applied together in the next step. A burst of 1,000 status callbacks thus
        costs a handful of transactions, and an idle system still answers at once. `before_save`
        writes (a stored reply) commit in the same transaction as the step."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(activation_id, []).append((list(events), list(fired), before_save, future))
        if activation_id not in self._draining:
            self._draining.add(activation_id)
            task = asyncio.create_task(self._drain(activation_id))
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        result: StepResult | None = await future
        return result

    async def _drain(self, activation_id: str) -> None:
        try:
            while self._queued.get(activation_id):
                batch = self._queued.pop(activation_id)
                events = [event for evs, _, _, _ in batch for event in evs]
                fired = [item for _, items, _, _ in batch for item in items]
                writes = [write for _, _, write, _ in batch if write is not None]

                async def write_all(conn: AsyncConnection, writes: list[Any] = writes) -> None:
                    for write in writes:
                        await write(conn)

                try:
                    result = await self.step(activation_id, events, fired=fired, before_save=write_all)
                except Exception as exc:
                    for _, _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, _, _, future in batch:
                    if not future.done():
                        future.set_result(result)
        finally:
            self._draining.discard(activation_id)


def _log_row(
    activation_id: str, at: datetime, step: str, who: str | None, outcome: str, problem: str | None
) -> dict[str, Any]:
    return {
        "activation_id": activation_id,
        "at": at,
        "step": step,
        "who": who,
        "outcome": outcome,
        "problem": problem,
    }
