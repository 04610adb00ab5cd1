"""The engine: starts activations and runs the dispatcher and the deadline waiter.

`Engine` is the async shell around the pure planner. It owns no escalation rule: it freezes a
snapshot when an activation starts, then turns every outside event (a send result, a provider
status, a reply, a deadline) into one `Stepper.step`. Restart-safety comes from the store: at start
it puts back in-flight outbox rows and the waiter picks up every pending deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.channels.base import Provider
from notifier.clock import Clock
from notifier.domain.calltree import ActivationKind, TreeSet
from notifier.domain.content import Content, complete_content
from notifier.domain.events import Event, Start
from notifier.domain.messages import REF_SPACE, reference_code
from notifier.domain.plan import ChannelKind, Plan
from notifier.domain.planner import initial_state
from notifier.domain.ratelimit import SenderPool
from notifier.domain.snapshot import Snapshot, compile_invocation, compile_snapshot
from notifier.engine.deadlines import DeadlineWaiter
from notifier.engine.dispatcher import Dispatcher
from notifier.engine.hub import StepHub
from notifier.engine.invocation import Invoker
from notifier.engine.snapshots import SnapshotCache
from notifier.engine.stepper import NewActivation, Stepper, StepResult, Unit
from notifier.engine.writes import Renderer
from notifier.store import activation_repo, outbox_repo

log = structlog.get_logger("notifier.engine")


#: reference codes looked up one by one before reading every open activation's
_REF_CANDIDATES = 16


def new_activation_id() -> str:
    return uuid.uuid4().hex[:16]


class ActivationError(ValueError):
    """A request the engine refuses: unknown tree, closed activation, unknown person...

    `problems` are one line each, starting with the request's field path (`fields.convene: ...`)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class Config:
    """The plan and call trees new activations are built from (reloaded on SIGHUP)."""

    plan: Plan
    trees: TreeSet
    plan_version: int | None = None


class Engine:
    def __init__(
        self,
        db: AsyncEngine,
        config: Config,
        providers: Mapping[str, Provider],
        clock: Clock,
        render: Renderer,
        senders: dict[ChannelKind, tuple[tuple[str, ...], float]] | None = None,
        max_in_flight: int = 50,
        bundle_window: timedelta = timedelta(0),
    ) -> None:
        self.db = db
        self.config = config
        self._snapshots = SnapshotCache()  # compiled once per configuration, not per activation
        self.clock = clock
        self.stepper = Stepper(db, clock, render)
        pools = {
            kind: SenderPool(numbers, rate_per_sender=rate)
            for kind, (numbers, rate) in (senders or {}).items()
        }
        self.dispatcher = Dispatcher(
            self.stepper, providers, pools, clock, max_in_flight=max_in_flight, bundle_window=bundle_window
        )
        self.stepper.handoff = self.dispatcher
        self.waiter = DeadlineWaiter(self.stepper, clock)
        #: step events for in-process subscribers (the console's live pages)
        self.hub = StepHub(clock)
        self.stepper.listeners.append(self.hub.on_step)
        self.providers = providers
        self._tasks: list[asyncio.Task[None]] = []
        self.invoker = Invoker(self)
        self.on_step(self.invoker.on_step)

    # --- lifecycle -------------------------------------------------------------------------
    def warm(self) -> None:
        """Compile every tree's incident snapshot and encode its stored document now (at start and
        after a reload) rather than in the start call: a 50,000-person broadcast then starts
        without waiting seconds for them (the encoding alone was 0.6 s of its 0.7 s start call)."""
        for tree in self.config.trees.calltrees:
            with contextlib.suppress(ActivationError):  # the start call reports it, as it would
                self._snapshots.document(self.prepare(tree.id, ActivationKind.INCIDENT))

    async def start(self) -> None:
        self.warm()
        await self.invoker.recover()
        recovered = await self.dispatcher.recover()
        if recovered:
            log.warning(
                "messages in flight when the last run stopped: asking the provider before any resend",
                count=recovered,
            )
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(self.waiter.run(), name="deadline-waiter"),
        ]
        self.stepper.outbox_changed.set()
        self.stepper.deadlines_changed.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain in-flight sends (bounded by `timeout`), then stop. Pending work stays in the store."""
        self.hub.close()
        self.dispatcher.stop(timeout)
        self.waiter.stop()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout + 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for provider in {id(p): p for p in self.providers.values()}.values():
            await provider.close()

    def on_step(self, listener: Callable[[StepResult], None]) -> None:
        self.stepper.listeners.append(listener)

    # --- activations -----------------------------------------------------------------------
    async def activate(
        self,
        tree_id: str,
        kind: ActivationKind = ActivationKind.INCIDENT,
        fields: dict[str, str] | None = None,
        started_by: str = "system",
        reason: str = "",
        policy: str | None = None,
        strict: bool = False,
        invoked_by: str | None = None,
    ) -> str:
        """Freeze a snapshot of `tree_id` and start notifying. Returns the activation id.

        `strict` (a person starting it): refuse unknown or missing message fields instead of
        starting with the gap logged."""
        snapshot = self.prepare(tree_id, kind, policy)
        if strict:
            content = self.content(tree_id, kind, fields or {})
            problems = content.problems(tree_id, kind)
            if problems:
                raise ActivationError("; ".join(problems), tuple(problems))
        async with self.stepper.unit() as unit:
            activation_id = await self.start_in(
                unit,
                snapshot,
                kind,
                fields,
                started_by=started_by,
                reason=reason,
                invoked_by=invoked_by,
            )
        return activation_id

    def prepare_question(self, tree_id: str, kind: ActivationKind, policy: str | None = None) -> Snapshot:
        """The invocation question for `tree_id` (a route with `invoke: ask`): the plan's authority
        is asked first, and a "1" starts the tree (see engine/invocation.py)."""
        config = self.config
        try:
            return self._snapshots.get(
                config,
                ("invocation", tree_id, kind, policy),
                lambda: compile_invocation(config.plan, config.trees, tree_id, kind, policy),
            )
        except (KeyError, ValueError) as exc:
            raise ActivationError(f"call tree {tree_id!r} cannot be invoked: {exc}") from exc

    def prepare(self, tree_id: str, kind: ActivationKind, policy: str | None = None) -> Snapshot:
        """The frozen snapshot a new activation of `tree_id` will follow (compiled outside any lock).

        Compiled once per plan and trees (a 50,000-person tree takes seconds) and shared: snapshots
        are immutable, so every activation of the tree may follow the same object."""
        config = self.config
        if config.trees.tree(tree_id) is None:
            known = ", ".join(t.id for t in config.trees.calltrees) or "none"
            raise ActivationError(f"unknown call tree {tree_id!r} (known: {known})")
        try:
            return self._snapshots.get(
                config,
                ("tree", tree_id, kind, policy),
                lambda: compile_snapshot(config.plan, config.trees, tree_id, kind, policy),
            )
        except (KeyError, ValueError) as exc:
            raise ActivationError(f"call tree {tree_id!r} cannot be activated: {exc}") from exc

    def content(self, tree_id: str, kind: ActivationKind, given: dict[str, str]) -> Content:
        tree = self.config.trees.tree(tree_id)
        if tree is None:
            raise ActivationError(f"unknown call tree {tree_id!r}")
        return complete_content(self.config.plan, tree, kind, given)

    async def start_in(
        self,
        unit: Unit,
        snapshot: Snapshot,
        kind: ActivationKind,
        fields: dict[str, str] | None,
        *,
        started_by: str,
        reason: str,
        invoked_by: str | None = None,
    ) -> str:
        """Insert a new activation and its first step in the caller's unit of work (one commit from
        an alert to the first claimed SMS). Returns its id."""
        now = self.clock.now()
        activation_id = new_activation_id()
        conn = unit.conn
        state = initial_state(snapshot, now)
        # a question to the invocation authority carries the content of the tree it would start
        content_tree = snapshot.invokes.tree_id if snapshot.invokes is not None else snapshot.tree_id
        content = self.content(content_tree, kind, fields or {})
        if invoked_by:  # who invoked the plan, in which role: on record, and {invoked_by} in templates
            content.fields["invoked_by"] = invoked_by
        ref = await self._unique_ref(conn)
        values = {
            "id": activation_id,
            "ref": ref,
            "tree_id": snapshot.tree_id,
            "kind": str(kind),
            "started_at": now,
            "started_by": started_by,
            "reason": reason,
            "plan_version": self.config.plan_version,
            "fields": content.fields,
        }
        document = self._snapshots.document(snapshot)
        await unit.start(NewActivation(values, snapshot, document, state), [Start()])
        gaps = content.problems(content_tree, kind)
        if invoked_by:
            await activation_repo.insert_log(
                conn,
                [
                    {
                        "activation_id": activation_id,
                        "at": now,
                        "step": "invoked",
                        "who": started_by,
                        "outcome": f"continuity plan invoked by {invoked_by}",
                        "problem": None,
                    }
                ],
            )
        if gaps:  # started by an alert or the scheduler: never refused, but the gap is on record
            await activation_repo.insert_log(
                conn,
                [
                    {
                        "activation_id": activation_id,
                        "at": now,
                        "step": "message content",
                        "who": started_by,
                        "outcome": "started with incomplete message content; those lines are left out",
                        "problem": gap,
                    }
                    for gap in gaps
                ],
            )
        log.info(
            "activation started", activation_id=activation_id, tree=snapshot.tree_id, kind=str(kind), ref=ref
        )
        return activation_id

    async def handle(self, activation_id: str, events: list[Event]) -> StepResult | None:
        return await self.stepper.submit(activation_id, events)

    async def _unique_ref(self, conn: Any) -> str:
        """The first code from a random seed that no open activation uses: the first few
        candidates are checked by code, and only when all of them are taken are every open
        activation's codes read (a start costs one small query however many are open)."""
        seed = secrets.randbelow(REF_SPACE)
        candidates = [reference_code(seed + offset) for offset in range(_REF_CANDIDATES)]
        taken = await activation_repo.open_refs(conn, among=candidates)
        free = next((ref for ref in candidates if ref not in taken), None)
        if free is not None:
            return free
        open_refs = await activation_repo.open_refs(conn)
        for offset in range(REF_SPACE):
            ref = reference_code(seed + offset)
            if ref not in open_refs:
                return ref
        raise ActivationError("every reference code is in use by an open activation")

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Test helper: wait until nothing is queued or in flight and no large start has chunks
        left to notify (deadlines may still be pending)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            async with self.db.connect() as conn:
                queued = await outbox_repo.any_queued(conn)
                starting = await activation_repo.starts_under_way(conn)
            if not queued and not starting and self.dispatcher.in_flight == 0:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("engine did not become idle")
