"""Wires the calendar jobs into a running daemon: drills, heads-ups, review reminders, reports.

`start_calendar(runtime)` is the one call `Runtime.start` makes; it builds the jobs from
`settings.schedule`, registers the drill-report listener on the engine, hands SMS replies that
match no activation to the review desk, and starts the clock-driven loop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from notifier.engine.core import Config
from notifier.scheduling.drills import DrillRunner, ReportMailer
from notifier.scheduling.scheduler import Job, Scheduler
from notifier.settings import DrillSchedule, ReportDelivery, Settings
from notifier.store.leader import leadership_for
from notifier.upkeep.outbound import Outbound
from notifier.upkeep.reviews import ReviewDesk

if TYPE_CHECKING:
    from notifier.domain.plan import Plan
    from notifier.runtime import Runtime

log = structlog.get_logger("notifier.scheduling")


@dataclass
class CalendarJobs:
    scheduler: Scheduler | None
    drills: DrillRunner
    reports: ReportMailer
    reviews: ReviewDesk

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.reports.drain(timeout=5)


def build_jobs(
    settings: Settings, org_timezone: str, drills: DrillRunner, reports: ReportMailer, reviews: ReviewDesk
) -> list[Job]:
    schedule = settings.schedule
    jobs: list[Job] = []
    for index, drill in enumerate(d for d in schedule.drills if d.enabled):
        zone = drill.timezone or org_timezone
        key = f"drill:{drill.tree}:{index}"
        jobs.append(Job(key, drill.cron, zone, functools.partial(_start_drill, drills, drill)))
        if drill.announced:
            jobs.append(
                Job(
                    f"announce:{drill.tree}:{index}",
                    drill.cron,
                    zone,
                    functools.partial(_announce, drills, drill),
                    lead=drill.announce_before,
                )
            )
    if schedule.reminders.enabled:
        jobs.append(Job("review-reminders", schedule.reminders.cron, org_timezone, reviews.send_reminders))
    for index, delivery in enumerate(schedule.reports):
        key = f"reports:{index}"
        jobs.append(
            Job(key, delivery.cron, org_timezone, functools.partial(_deliver, reports, delivery, key))
        )
    return jobs


async def _start_drill(drills: DrillRunner, drill: DrillSchedule, fire_at: datetime) -> str:
    return await drills.start_drill(drill, fire_at)


async def _announce(drills: DrillRunner, drill: DrillSchedule, fire_at: datetime) -> str:
    return await drills.announce(drill, fire_at)


async def _deliver(reports: ReportMailer, delivery: ReportDelivery, key: str, fire_at: datetime) -> str:
    since = await reports.previous_run(key, fire_at, fallback=timedelta(days=31))
    return await reports.deliver_completed(since, fire_at, delivery.kinds, delivery.recipients)


def start_calendar(runtime: Runtime) -> CalendarJobs:
    """Build and start everything calendar-driven for `runtime` (engine and plan store started)."""
    engine, service, plan_store, db = runtime.engine, runtime.service, runtime.plan_store, runtime.db
    assert engine is not None and service is not None and plan_store is not None and db is not None
    settings = runtime.settings
    outbound = Outbound(engine.stepper)

    def current_plan() -> Plan:
        return engine.config.plan

    def adopt(version: int, plan: Plan) -> None:
        """A review reply made a new plan version: new activations use it from now on."""
        engine.config = Config(plan=plan, trees=engine.config.trees, plan_version=version)

    drills = DrillRunner(engine, outbound)
    reports = ReportMailer(db, outbound, current_plan, runtime.clock)
    reviews = ReviewDesk(
        db, plan_store, outbound, runtime.clock, settings.schedule.reminders.repeat_days, on_new_version=adopt
    )
    service.responses.review_handler = reviews.handle_sms
    if settings.schedule.email_drill_reports:
        engine.on_step(reports.on_step)
    scheduler = None
    if settings.schedule.enabled:
        jobs = build_jobs(settings, engine.config.plan.organisation.timezone, drills, reports, reviews)
        if jobs:
            scheduler = Scheduler(
                db, runtime.clock, leadership_for(db), jobs, misfire_grace=settings.schedule.misfire_grace
            )
            scheduler.start()
    return CalendarJobs(scheduler, drills, reports, reviews)
