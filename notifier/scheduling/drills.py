"""Scheduled drills, their heads-ups, and the report that follows each drill.

A drill is an ordinary activation of kind `drill` started by the scheduler: the snapshot leaves
out vendor and external contacts, and `domain/messages.py` marks every message, so nothing here
can make a drill look like an incident. When the engine reports that a drill completed, its
report (HTML with the Markdown as the text part, the PNG curve inside the HTML) is emailed to the
organisation's `report_recipients`, once, even with several instances (claimed in
`scheduled_runs`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import and_, insert, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import Completed
from notifier.domain.plan import ChannelKind, Plan
from notifier.domain.snapshot import compile_snapshot
from notifier.engine.core import Engine
from notifier.engine.stepper import StepResult
from notifier.reports.build import render_report
from notifier.settings import DrillSchedule
from notifier.store.db import make_engine
from notifier.store.engine_tables import activations
from notifier.store.upkeep_tables import scheduled_runs
from notifier.upkeep.outbound import Outbound, email_of, first_contact

log = structlog.get_logger("notifier.drills")

DEFAULT_SCENARIO = "Scheduled notification drill of the call tree"


def drill_fields(schedule: DrillSchedule) -> dict[str, str]:
    """The message fields of a scheduled drill, with its exercise declaration (objectives, type...);
    the scenario a drill requires defaults to saying it is scheduled."""
    fields = {**schedule.exercise.to_fields(), **schedule.fields}
    return {**fields, "scenario": fields.get("scenario") or DEFAULT_SCENARIO}


def heads_up_text(tree_name: str, when: datetime, timezone: str) -> tuple[str, str]:
    """(subject, text) of the announcement of a drill; marked as a drill like the drill itself."""
    local = when.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")
    subject = f"[DRILL] Notification drill of {tree_name} planned for {local}"
    text = (
        f"DRILL NOTICE: a notification drill of the call tree '{tree_name}' is planned for {local}. "
        "Nothing to do now. When the drill message arrives, answer it as it asks; it is an exercise."
    )
    return subject, text


class DrillRunner:
    """Starts scheduled drills and sends their heads-ups."""

    def __init__(self, engine: Engine, outbound: Outbound) -> None:
        self.engine = engine
        self.outbound = outbound

    async def start_drill(self, schedule: DrillSchedule, fire_at: datetime) -> str:
        activation_id = await self.engine.activate(
            schedule.tree,
            ActivationKind.DRILL,
            drill_fields(schedule),
            started_by="scheduler",
            reason=f"scheduled drill ({schedule.cron}) due {fire_at.isoformat()}",
        )
        return f"drill started: activation {activation_id}"

    async def announce(self, schedule: DrillSchedule, fire_at: datetime) -> str:
        """Tell everyone the drill will reach that it is coming (`fire_at` is the heads-up time)."""
        config = self.engine.config
        snapshot = compile_snapshot(config.plan, config.trees, schedule.tree, ActivationKind.DRILL)
        timezone = schedule.timezone or config.plan.organisation.timezone
        subject, text = heads_up_text(snapshot.tree_name, fire_at + schedule.announce_before, timezone)
        sent = 0
        for person_id in snapshot.people:
            person = config.plan.person(person_id)
            target = person and first_contact(person, (ChannelKind.EMAIL, ChannelKind.SMS))
            if not target:
                continue
            channel, address = target
            key = f"announce-{schedule.tree}-{person_id}"
            is_email = channel is ChannelKind.EMAIL
            if await self.outbound.send(key, channel, address, text, subject if is_email else None):
                sent += 1
        return f"heads-up sent to {sent} of {len(snapshot.people)} people"


def _render_in_thread(url: URL, activation_id: str) -> tuple[bytes, bytes] | None:
    """Markdown and HTML of a report, rendered off the event loop.

    Plotting the PNG takes a few hundred milliseconds of CPU; on the daemon's loop that would hold
    up webhooks and timers (and, on a fast test clock, minutes of clock time). The thread gets its
    own event loop and its own short-lived database engine.
    """

    async def render() -> tuple[bytes, bytes] | None:
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            async with engine.connect() as conn:
                markdown = await render_report(conn, activation_id, "md")
                html = await render_report(conn, activation_id, "html")
        finally:
            await engine.dispose()
        return None if markdown is None or html is None else (markdown, html)

    return asyncio.run(render())


class ReportMailer:
    """Emails activation reports: after each drill, and on the `reports` calendar jobs."""

    def __init__(self, db: AsyncEngine, outbound: Outbound, plan: Callable[[], Plan], clock: Any) -> None:
        self.db = db
        self.outbound = outbound
        self.plan = plan
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()

    def on_step(self, result: StepResult) -> None:
        """Engine step listener: a completed activation gets its report mailed if it was a drill."""
        if any(isinstance(action, Completed) for action in result.actions):
            task = asyncio.get_running_loop().create_task(self._after_completion(result.activation_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _after_completion(self, activation_id: str) -> None:
        try:
            async with self.db.connect() as conn:
                row = (
                    await conn.execute(
                        select(activations.c.kind, activations.c.started_at).where(
                            activations.c.id == activation_id
                        )
                    )
                ).first()
            if row is None or row.kind != str(ActivationKind.DRILL):
                return
            if not await self._claim(f"report:{activation_id}", row.started_at):
                return
            await self.send_report(activation_id, list(self.plan().organisation.report_recipients))
        except Exception:
            log.exception("drill report could not be sent", activation_id=activation_id)

    async def _claim(self, key: str, moment: datetime) -> bool:
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    insert(scheduled_runs).values(
                        job=key, fire_at=moment, started_at=self.clock.now(), instance="", outcome="sent"
                    )
                )
        except IntegrityError:
            return False
        return True

    async def send_report(self, activation_id: str, recipients: list[str]) -> int:
        """Email the report of one activation to `recipients` (person ids); returns how many took it."""
        rendered = await asyncio.to_thread(_render_in_thread, self.db.url, activation_id)
        if rendered is None:
            return 0
        markdown, html = rendered
        text = markdown.decode()
        title = text.splitlines()[0].lstrip("# ").strip()
        verdict = next((ln for ln in text.splitlines() if ln.startswith("**Verdict:")), "")
        subject = title + (f" - {verdict.split('**')[1].removeprefix('Verdict: ')}" if verdict else "")
        if title.startswith("Drill"):
            subject = "[DRILL] " + subject
        plan = self.plan()
        sent = 0
        for person_id in recipients:
            person = plan.person(person_id)
            address = email_of(person) if person else None
            if address is None:
                log.warning("report recipient has no email address", person=person_id)
                continue
            key = f"report-{activation_id}-{person_id}"
            if await self.outbound.send(key, ChannelKind.EMAIL, address, text, subject, html.decode()):
                sent += 1
        return sent

    async def deliver_completed(
        self, since: datetime, until: datetime, kinds: list[str], recipients: list[str]
    ) -> str:
        """The `reports` calendar job: every activation of `kinds` completed in (since, until]."""
        query = (
            select(activations.c.id)
            .where(
                and_(
                    activations.c.completed_at > since,
                    activations.c.completed_at <= until,
                    activations.c.kind.in_(kinds),
                )
            )
            .order_by(activations.c.completed_at)
        )
        async with self.db.connect() as conn:
            ids = list((await conn.execute(query)).scalars())
        who = recipients or list(self.plan().organisation.report_recipients)
        for activation_id in ids:
            await self.send_report(activation_id, who)
        return f"{len(ids)} report(s) sent to {len(who)} recipient(s)"

    async def previous_run(self, job: str, before: datetime, fallback: timedelta) -> datetime:
        query = select(scheduled_runs.c.fire_at).where(
            and_(scheduled_runs.c.job == job, scheduled_runs.c.fire_at < before)
        )
        async with self.db.connect() as conn:
            times = [t for t in (await conn.execute(query)).scalars()]
        if not times:
            return before - fallback
        latest: datetime = max(times)
        return latest if latest.tzinfo else latest.replace(tzinfo=before.tzinfo)

    async def drain(self, timeout: float = 10.0) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
