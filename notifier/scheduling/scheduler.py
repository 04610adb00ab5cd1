"""The calendar-job loop: sleep on the engine `Clock` until the next cron instant, then run the job.

Why not `AsyncIOScheduler`: it waits on the wall clock, so neither a test nor a demo at 600x can
see a quarterly drill fire. This loop computes fire times with APScheduler's `CronTrigger`
(`timing.next_fire`) and sleeps on whatever `Clock` the daemon runs on; with `RealClock` it
behaves like APScheduler's cron jobs, with `ScaledClock` a quarter passes in minutes.

Each fire is claimed in `scheduled_runs` (unique job + fire time) before the job runs, and only the
leader (`notifier.store.leader`) claims. So a drill runs once with several instances, after a
leader change, and after a restart inside the misfire grace; a fire missed by more than the grace
(the daemon was down) is skipped with a warning, not run late.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.clock import Clock
from notifier.scheduling.timing import next_fire
from notifier.store.leader import Leadership
from notifier.store.upkeep_tables import scheduled_runs

log = structlog.get_logger("notifier.scheduling")

JobAction = Callable[[datetime], Awaitable[str]]
#: the longest the loop sleeps before looking at the clock again, in clock seconds: bounds how late
#: a job is after a wall-clock jump (suspend, NTP step) and how long a new leader waits
MAX_NAP = 60.0


@dataclass
class Job:
    """Run `action(fire_time)` at every instant `cron` names in `timezone`, `lead` earlier.

    `lead` serves heads-ups: the announcement of a drill fires `announce_before` ahead of the
    drill's own cron instants. The action returns a one-line outcome kept in `scheduled_runs`.
    """

    key: str
    cron: str
    timezone: str
    action: JobAction
    lead: timedelta = timedelta(0)
    next_at: datetime | None = field(default=None, init=False)

    def following(self, after: datetime) -> datetime | None:
        """The next fire instant (already shifted by `lead`) strictly after `after`."""
        fire = next_fire(self.cron, self.timezone, after + self.lead)
        return None if fire is None else fire - self.lead


class Scheduler:
    def __init__(
        self,
        db: AsyncEngine,
        clock: Clock,
        leader: Leadership,
        jobs: list[Job],
        misfire_grace: timedelta = timedelta(hours=1),
    ) -> None:
        self.db = db
        self.clock = clock
        self.leader = leader
        self.jobs = jobs
        self.misfire_grace = misfire_grace
        self.instance = f"{socket.gethostname()}:{os.getpid()}"[:64]
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        start = self.clock.now() - self.misfire_grace
        for job in self.jobs:
            job.next_at = job.following(start)
            log.info("calendar job scheduled", job=job.key, next_at=_iso(job.next_at))
        self._task = asyncio.create_task(self.run(), name="calendar-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.leader.release()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the calendar
                log.exception("calendar loop error; retrying")
            due = [job.next_at for job in self.jobs if job.next_at is not None]
            wait = MAX_NAP
            if due:
                wait = max(0.0, min(wait, (min(due) - self.clock.now()).total_seconds()))
            await self.clock.sleep(wait)

    async def tick(self) -> None:
        """Start every job whose fire time has come (if this instance leads)."""
        now = self.clock.now()
        due = [job for job in self.jobs if job.next_at is not None and job.next_at <= now]
        if not due or not await self.leader.is_leader():
            return
        for job in due:
            fire_at = job.next_at
            assert fire_at is not None
            job.next_at = job.following(fire_at)
            if now - fire_at > self.misfire_grace:
                log.warning("calendar job missed its time; skipped", job=job.key, fire_at=_iso(fire_at))
                continue
            if await self._claim(job, fire_at, now):
                task = asyncio.create_task(self._run(job, fire_at), name=f"job:{job.key}")
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _claim(self, job: Job, fire_at: datetime, now: datetime) -> bool:
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    insert(scheduled_runs).values(
                        job=job.key,
                        fire_at=fire_at,
                        started_at=now,
                        instance=self.instance,
                        outcome="started",
                    )
                )
        except IntegrityError:
            log.info("calendar job already run for this time", job=job.key, fire_at=_iso(fire_at))
            return False
        return True

    async def _run(self, job: Job, fire_at: datetime) -> None:
        try:
            outcome = await job.action(fire_at)
        except Exception as exc:
            log.exception("calendar job failed", job=job.key, fire_at=_iso(fire_at))
            outcome = f"failed: {type(exc).__name__}"
        else:
            log.info("calendar job ran", job=job.key, fire_at=_iso(fire_at), outcome=outcome)
        with contextlib.suppress(Exception):
            async with self.db.begin() as conn:
                await conn.execute(
                    update(scheduled_runs)
                    .where(scheduled_runs.c.job == job.key, scheduled_runs.c.fire_at == fire_at)
                    .values(outcome=outcome[:500])
                )

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Test helper: wait for the jobs that are running to finish."""
        if self._running:
            await asyncio.wait_for(asyncio.gather(*list(self._running), return_exceptions=True), timeout)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
