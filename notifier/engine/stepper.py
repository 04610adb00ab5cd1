"""One engine step: lock the activation, run the planner over events, write everything at once.

This is the only place where planner decisions become rows. State (as a delta appended to the
state journal, or now and then a whole checkpoint), outbox rows, deadlines and the activity log are
written in one transaction, so after a crash either all of a step happened or none
of it did; the dispatcher and the deadline waiter only ever act on committed rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier.clock import Clock
from notifier.domain.events import (
    Event,
    Schedule,
    Send,
    Withdraw,
)
from notifier.domain.planner import decide_many
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState
from notifier.domain.statedelta import apply_delta, delta_size, state_delta, state_size
from notifier.engine.arrivals import Arrivals
from notifier.engine.step_queue import StepQueue
from notifier.engine.writes import Claimed, Handoff, Renderer, write_actions
from notifier.store import activation_repo
from notifier.store.db import EncodedJSON

#: the journal is checkpointed once it holds more entries than the state (and at least this many)
_MIN_JOURNAL = 64


@dataclass(frozen=True)
class _Cached:
    revision: int  # the row revision this state was read or written at
    state: ActivationState
    journal: int  # entries in the journal since the last checkpoint


@dataclass
class Draft:
    """A step written in a transaction that has not committed yet."""

    activation_id: str
    revision: int = 0
    state: ActivationState | None = None
    journal: int = 0
    actions: list[Any] = field(default_factory=list)
    claimed: Claimed = field(default_factory=Claimed)
    before: ActivationState | None = None
    changed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class NewActivation:
    """An activation to insert with its first step (`Unit.start`)."""

    values: dict[str, Any]  # its `activations` row: id, ref, tree_id, kind, started_at, fields ...
    snapshot: Snapshot
    document: EncodedJSON  # the snapshot as stored (JSON text, `SnapshotCache.document`)
    state: ActivationState  # before the first step


@dataclass
class StepResult:
    """What one step did, for listeners (metrics, MQTT events, drill reports)."""

    activation_id: str
    state: ActivationState
    actions: list[Any] = field(default_factory=list)
    #: the state the step started from (None: not known), and the entries it wrote
    #: (`Decision.changed`): listeners look at these instead of walking the whole state
    before: ActivationState | None = None
    changed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

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
        self._states: dict[str, _Cached] = {}
        #: activations whose step has committed (or is committing) and not updated the cache yet
        self._publishing: dict[str, asyncio.Event] = {}
        # SQLite has one writer per file; serialising our own steps avoids lock-upgrade deadlocks.
        self._lock = asyncio.Lock() if db.dialect.name == "sqlite" else None
        self._queue = StepQueue(self, together=self._lock is not None)
        self.listeners: list[Callable[[StepResult], None]] = []
        #: the dispatcher, which takes rows a step claims for it (see writes.py); set by the engine
        self.handoff: Handoff | None = None
        #: writes informed-channel posts in the step's transaction (notifier.engine.inform); optional
        self.informer: Any = None
        self.outbox_changed = asyncio.Event()
        self.deadlines_changed = asyncio.Event()
        #: while the deadline waiter sleeps: when it will look again by itself (None: not asleep)
        self.deadline_horizon: datetime | None = None
        #: answers received and not applied yet: the deadline waiter lets them go first
        self.arrivals = Arrivals()

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

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """The one unit of work of the engine's write path: a transaction in which steps are written
        (`Unit.step`); after the commit their claimed sends start, the caches learn their state and
        the listeners hear of them (`Unit.results`). If it fails, the in-flight places their sends
        had taken are given back and new activations leave the caches."""
        unit: Unit | None = None
        publishing: list[tuple[str, asyncio.Event]] = []
        try:
            try:
                async with self.transaction() as conn:
                    unit = Unit(self, conn)
                    yield unit
                    publishing = self._publishing_begin(unit)
            except BaseException:
                if unit is not None:
                    unit._abandon()
                raise
            assert unit is not None
            unit._commit()
        finally:
            for activation_id, event in publishing:
                if self._publishing.get(activation_id) is event:
                    del self._publishing[activation_id]
                event.set()

    def _publishing_begin(self, unit: Unit) -> list[tuple[str, asyncio.Event]]:
        """Just before the commit: mark the unit's activations as being published. A step of one
        of them that locks the row between this commit and `_committed` (another task, scheduled
        first) would find the row a revision ahead of the cache and re-read the whole state
        (on PostgreSQL, where steps run side by side, that was one step in four of a 20,000-person
        broadcast, each decoding its state and journal); it waits for the cache instead."""
        marked = []
        for draft in unit._drafts:
            event = asyncio.Event()
            self._publishing[draft.activation_id] = event
            marked.append((draft.activation_id, event))
        return marked

    async def step(
        self,
        activation_id: str,
        events: Sequence[Event],
        *,
        fired: Sequence[tuple[str, int]] = (),
        before_save: Callable[[AsyncConnection], Any] | None = None,
    ) -> StepResult | None:
        """Apply `events` to one activation in a unit of its own now; `fired` deadlines are consumed.
        None: there is no such activation."""
        async with self.unit() as unit:
            await unit.step(activation_id, events, fired=fired, before_save=before_save)
        return unit.results.get(activation_id)

    async def _write(
        self,
        conn: AsyncConnection,
        draft: Draft,
        events: Sequence[Event],
        fired: Sequence[tuple[str, int]] = (),
        before_save: Callable[[AsyncConnection], Any] | None = None,
    ) -> bool:
        """One step inside the unit's transaction; False if there is no such activation."""
        activation_id = draft.activation_id
        row = await activation_repo.lock_activation(conn, activation_id)
        if row is None:
            return False
        cached = self._states.get(activation_id)
        publishing = self._publishing.get(activation_id)
        if (cached is None or cached.revision != row.revision) and publishing is not None:
            await publishing.wait()  # the step that wrote this revision is still updating the cache
            cached = self._states.get(activation_id)
        if cached is not None and cached.revision == row.revision and activation_id in self._snapshots:
            state, journal = cached.state, cached.journal
            snapshot = self._snapshots[activation_id]
        else:
            full = await activation_repo.load_activation_documents(conn, activation_id)
            snapshot = self.snapshot_of(activation_id, full.snapshot)
            document = dict(full.state)
            changes = await activation_repo.load_changes(conn, activation_id)
            for delta in changes:
                apply_delta(document, delta)
            state = ActivationState.model_validate(document)
            journal = sum(delta_size(delta) for delta in changes)
        now = self.clock.now()
        decision = decide_many(snapshot, state, events, now)
        before, state, actions = state, decision.state, list(decision.actions)
        await activation_repo.consume_deadlines(conn, activation_id, fired)
        if before_save is not None:
            # before the actions: a send result puts a row back in the queue, and a `Withdraw` of
            # this very step must then find it there (and take it out)
            await before_save(conn)
        await self._effects(conn, draft, row, snapshot, before, state, events, actions, now)
        extra: dict[str, Any] = {}
        if state.completed_at is not None and row.completed_at is None:
            extra["completed_at"] = state.completed_at
        if state.status == "closed" and row.closed_at is None:
            extra["closed_at"] = now
        delta = state_delta(before, state, decision.changed)
        journal += delta_size(delta)
        finished = state.status in ("closed", "cancelled")
        if finished or journal > max(state_size(state), _MIN_JOURNAL):
            # checkpoint: amortised, each entry written to the journal pays for one in here
            await activation_repo.save_state(  # pydantic's JSON text, not 3 dicts per person
                conn, activation_id, EncodedJSON(state.model_dump_json()), state.status, now, **extra
            )
            journal = 0
        else:
            await activation_repo.append_change(
                conn, activation_id, row.revision + 1, delta, state.status, now, **extra
            )
        draft.revision, draft.state, draft.journal, draft.actions = row.revision + 1, state, journal, actions
        draft.before, draft.changed = before, decision.changed
        return True

    async def _write_new(
        self, conn: AsyncConnection, draft: Draft, new: NewActivation, events: Sequence[Event]
    ) -> None:
        """The first step of an activation written with the activation itself: its row and
        documents are inserted with the state after the step (no lock to take, nothing to read
        back, no journal entry: three statements fewer for every activation started)."""
        now = self.clock.now()
        decision = decide_many(new.snapshot, new.state, events, now)
        state, actions = decision.state, list(decision.actions)
        values = {**new.values, "status": state.status, "revision": 1, "updated_at": now}
        if state.completed_at is not None:
            values["completed_at"] = state.completed_at
        if state.status == "closed":
            values["closed_at"] = now
        await activation_repo.insert_activation(
            conn, values, new.document, EncodedJSON(state.model_dump_json())
        )
        # the row as a step would have locked it, before this first step (revision 0)
        row = SimpleNamespace(**{**new.values, "revision": 0, "completed_at": None, "closed_at": None})
        await self._effects(
            conn, draft, row, new.snapshot, new.state, state, events, actions, now, fresh=True
        )
        draft.revision, draft.state, draft.journal, draft.actions = 1, state, 0, actions
        draft.before, draft.changed = new.state, decision.changed

    async def _effects(
        self,
        conn: AsyncConnection,
        draft: Draft,
        row: Any,
        snapshot: Snapshot,
        before: ActivationState,
        state: ActivationState,
        events: Sequence[Event],
        actions: list[Any],
        now: datetime,
        fresh: bool = False,
    ) -> None:
        """A step's actions as rows (outbox with the claims for the dispatcher, deadlines, activity
        log) and the informed channels' posts. `fresh`: a new activation's first step."""
        claimed = draft.claimed
        await write_actions(
            conn, row, snapshot, actions, now, self.render, self.handoff, claimed, fresh=fresh
        )
        if self.informer is not None and await self.informer.write(
            conn, row, snapshot, before, state, events, now
        ):
            self.outbox_changed.set()

    def _committed(self, draft: Draft) -> StepResult:
        """After the commit: remember the state, start the claimed sends, tell the listeners."""
        assert draft.state is not None
        if draft.state.status in ("closed", "cancelled"):
            self.forget(draft.activation_id)  # a finished activation leaves the caches (long-running daemon)
        else:
            self._states[draft.activation_id] = _Cached(draft.revision, draft.state, draft.journal)
        if draft.claimed.rows and self.handoff is not None:
            self.handoff.start(draft.claimed.rows, draft.claimed.opted_out)
        withdrawn = [a.attempt_id for a in draft.actions if isinstance(a, Withdraw)]
        if withdrawn and self.handoff is not None:
            self.handoff.withdrawn(draft.activation_id, withdrawn)
        result = StepResult(draft.activation_id, draft.state, draft.actions, draft.before, draft.changed)
        self._notify(result, queued=draft.claimed.queued > 0)
        return result

    def _abandon(self, draft: Draft) -> None:
        """The transaction failed: give back the in-flight places its sends had taken."""
        if draft.claimed.reserved and self.handoff is not None:
            self.handoff.unreserve(draft.claimed.reserved)
            draft.claimed.reserved = 0

    def _notify(self, result: StepResult, queued: bool) -> None:
        # the dispatcher is woken only for rows it has to claim itself (those the step claimed
        # are under way already), the deadline waiter only for a deadline earlier than the time
        # it will look again anyway (a removed one it finds gone then): each wake costs queries
        if queued:
            self.outbox_changed.set()
        due = [a.due_at for a in result.actions if isinstance(a, Schedule)]
        if due and (self.deadline_horizon is None or min(due) < self.deadline_horizon):
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
        """Like `step`, with group commit (step_queue.py): events that arrive while a step is
        running are applied together in the next one. `before_save` writes (a stored reply)
        commit in the same transaction as the step."""
        return await self._queue.submit(activation_id, events, fired, before_save)


class Unit:
    """A transaction of `Stepper.unit()` and the steps written in it (see there)."""

    def __init__(self, stepper: Stepper, conn: AsyncConnection) -> None:
        self.conn = conn
        self._stepper = stepper
        self._drafts: list[Draft] = []
        self._new: list[str] = []
        #: after the commit: what each step did, by activation id (None: no such activation)
        self.results: dict[str, StepResult | None] = {}

    async def step(
        self,
        activation_id: str,
        events: Sequence[Event],
        fired: Sequence[tuple[str, int]] = (),
        before_save: Callable[[AsyncConnection], Any] | None = None,
    ) -> bool:
        """Write one step of `activation_id`; False (and nothing written) if there is no such activation."""
        draft = Draft(activation_id)
        self._drafts.append(draft)  # before writing: a failure must give back what it reserved
        with structlog.contextvars.bound_contextvars(activation_id=activation_id):
            found = await self._stepper._write(self.conn, draft, events, fired, before_save)
        if not found:
            self._drafts.remove(draft)
            self.results.setdefault(activation_id, None)
        return found

    async def start(self, new: NewActivation, events: Sequence[Event]) -> None:
        """Insert a new activation and write its first step (`events`) with it; its snapshot and
        state are cached as written (and forgotten again if the unit fails)."""
        activation_id = str(new.values["id"])
        draft = Draft(activation_id)
        self._drafts.append(draft)
        self._new.append(activation_id)
        with structlog.contextvars.bound_contextvars(activation_id=activation_id):
            await self._stepper._write_new(self.conn, draft, new, events)
        self._stepper._snapshots[activation_id] = new.snapshot

    def _commit(self) -> None:
        for draft in self._drafts:
            self.results[draft.activation_id] = self._stepper._committed(draft)

    def _abandon(self) -> None:
        for draft in self._drafts:
            self._stepper._abandon(draft)
        for activation_id in self._new:
            self._stepper.forget(activation_id)
