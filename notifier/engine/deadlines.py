"""The deadline waiter: sleeps until the earliest `due_at`, then feeds `DeadlineDue` to the planner.

Deadlines are rows, so they survive restarts; a fired deadline is deleted in the same transaction
as the step it causes, and only if its fence still matches, so a second instance or a replay cannot
fire it twice (the planner also ignores a stale fence).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime, timedelta

import structlog

from notifier.clock import Clock
from notifier.domain.events import DeadlineDue
from notifier.engine.stepper import Stepper
from notifier.store import activation_repo

log = structlog.get_logger("notifier.deadlines")


class DeadlineWaiter:
    def __init__(self, stepper: Stepper, clock: Clock, batch: int = 500) -> None:
        self.stepper = stepper
        self.clock = clock
        self.batch = batch
        self._stopping = False
        self.lateness: list[float] = []  # seconds late, recent firings (metrics read and clear it)

    def stop(self) -> None:
        self._stopping = True
        self.stepper.deadlines_changed.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                fired = await self.fire_due()
            except Exception as exc:  # a failing step must not stop every other deadline
                log.error("firing deadlines failed", error=repr(exc), exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if fired == 0:
                await self._wait()

    async def fire_due(self) -> int:
        now = self.clock.now()
        due = await self._due(now)
        if not due:
            return 0
        # answers received before now are applied first: a reply that arrived before its node's
        # deadline is never overtaken by it because the engine was busy or the store was down
        # (engine/arrivals.py). Only once the store answered: while it is down nothing fires, and
        # the spooled replies' backlog must not count as stuck (their drain waits for the store).
        if self.stepper.arrivals.oldest() is not None:
            await self.stepper.arrivals.settled(now)
            due = await self._due(now)  # the answers applied meanwhile took some of them
        if not due:
            return 0
        grouped: dict[str, list[tuple[str, int, datetime]]] = defaultdict(list)
        for activation_id, key, fence, due_at in due:
            grouped[activation_id].append((key, fence, due_at))
        for activation_id, items in grouped.items():
            events = [DeadlineDue(key=key, fence=fence) for key, fence, _ in items]
            await self.stepper.step(activation_id, events, fired=[(k, f) for k, f, _ in items])
            fired_at = self.clock.now()
            for _, _, due_at in items:
                self.lateness.append((fired_at - due_at).total_seconds())
        del self.lateness[:-10000]
        return len(due)

    async def _due(self, now: datetime) -> list[tuple[str, str, int, datetime]]:
        async with self.stepper.transaction() as conn:
            return list(await activation_repo.due_deadlines(conn, now, self.batch))

    async def _wait(self) -> None:
        changed = self.stepper.deadlines_changed
        self.stepper.deadline_horizon = None  # a step meanwhile wakes us whatever it schedules
        changed.clear()
        async with self.stepper.db.connect() as conn:
            upcoming = await activation_repo.next_deadline(conn)
        now = self.clock.now()
        scale = float(getattr(self.clock, "scale", 1.0))
        timeout = 5.0
        if upcoming is not None:
            timeout = max(0.0, min(timeout, (upcoming - now).total_seconds() / scale))
        self.stepper.deadline_horizon = now + timedelta(seconds=timeout * scale)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=timeout)
        finally:
            self.stepper.deadline_horizon = None
