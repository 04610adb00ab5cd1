"""Group commit of steps: events that arrive for an activation while a step runs are applied
together in the next one (`Stepper.submit`).

A burst of 1,000 status callbacks thus costs a handful of transactions, and an idle system still
answers at once. On SQLite, which has one writer per file, every activation's queued events go
into the same unit of work (one commit instead of one per activation: at 50 alerts/s the write
lock, not the work, was the bottleneck); if that unit fails, each activation is tried in a unit of
its own, so that one failing step cannot hold back the rest. On PostgreSQL each activation drains
on its own, in parallel, locking only its own row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.events import Event

if TYPE_CHECKING:  # the stepper owns its queue: no import at run time
    from notifier.engine.stepper import Stepper, StepResult

_ALL = "*"  # the drain key when every activation shares one unit of work (SQLite)


class StepQueue:
    def __init__(self, stepper: Stepper, together: bool) -> None:
        self._stepper = stepper
        self._together = together
        self._queued: dict[str, list[_Job]] = {}
        self._draining: set[str] = set()
        self._drainers: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        activation_id: str,
        events: Sequence[Event],
        fired: Sequence[tuple[str, int]],
        before_save: Callable[[AsyncConnection], Any] | None,
    ) -> StepResult | None:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(activation_id, []).append(
            _Job(list(events), list(fired), before_save, future)
        )
        key = _ALL if self._together else activation_id
        if key not in self._draining:
            self._draining.add(key)
            task = asyncio.create_task(self._drain_all() if key == _ALL else self._drain(activation_id))
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        result: StepResult | None = await future
        return result

    async def _drain(self, activation_id: str) -> None:
        try:
            while self._queued.get(activation_id):
                await self._run_alone(activation_id, self._queued.pop(activation_id))
        finally:
            self._draining.discard(activation_id)

    async def _drain_all(self) -> None:
        try:
            while self._queued:
                queued, self._queued = self._queued, {}
                try:
                    async with self._stepper.unit() as unit:
                        for activation_id, jobs in queued.items():
                            await unit.step(activation_id, *_merge(jobs))
                except Exception:
                    for activation_id, jobs in queued.items():
                        await self._run_alone(activation_id, jobs)
                    continue
                for activation_id, jobs in queued.items():
                    _settle(jobs, result=unit.results.get(activation_id))
        finally:
            self._draining.discard(_ALL)

    async def _run_alone(self, activation_id: str, jobs: list[_Job]) -> None:
        events, fired, write_all = _merge(jobs)
        try:
            result = await self._stepper.step(activation_id, events, fired=fired, before_save=write_all)
        except Exception as exc:
            _settle(jobs, error=exc)
            return
        _settle(jobs, result=result)


@dataclass
class _Job:
    events: list[Event]
    fired: list[tuple[str, int]]
    write: Callable[[AsyncConnection], Any] | None
    future: asyncio.Future[Any]


def _merge(
    jobs: list[_Job],
) -> tuple[list[Event], list[tuple[str, int]], Callable[[AsyncConnection], Any]]:
    """One step's arguments from the jobs queued for one activation, in arrival order."""
    writes = [job.write for job in jobs if job.write is not None]

    async def write_all(conn: AsyncConnection) -> None:
        for write in writes:
            await write(conn)

    return [e for job in jobs for e in job.events], [f for job in jobs for f in job.fired], write_all


def _settle(jobs: list[_Job], result: StepResult | None = None, error: BaseException | None = None) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
