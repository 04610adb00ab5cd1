"""Planner actions become rows: outbox, deadlines, activity log; and the hand-off to the dispatcher.

A step that sends writes outbox rows. Left `pending`, a row waits for the dispatcher to wake up and
claim it in a transaction of its own: tens of milliseconds on a busy SQLite file, which is most of
the time between an alert and the first SMS. When the dispatcher has free room in its in-flight
window, the step claims the rows itself instead (status `sending`, this worker, a lease), in the
same transaction that creates them, and the dispatcher starts sending the moment it commits. Crash
safety is unchanged: a claimed row whose instance dies goes back to the queue when its lease runs
out, exactly like a row the dispatcher claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.bundling import BUNDLED_KINDS
from notifier.domain.events import Completed, Log, Schedule, Send, TimeLimitPassed, Unschedule, Withdraw
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot
from notifier.store import activation_repo, outbox_repo

Renderer = Callable[[Snapshot, dict[str, Any], str, str, Send], dict[str, Any]]
"""(snapshot, activation fields, activation id, ref, send) -> the stored message (text, subject, html)."""


class Handoff(Protocol):
    """The dispatcher as a step sees it: room in the in-flight window, and rows to send now."""

    worker: str
    lease: timedelta
    # a dispatcher may also have `bundle_window` (timedelta): SMS pages wait that long in the
    # outbox so that pages of other activations to the same number go with them as one SMS
    # (`domain/bundling.py`); absent or zero: sent at once

    def reserve(self, wanted: int) -> int:
        """Take up to `wanted` places in the in-flight window; returns how many were taken."""

    def unreserve(self, count: int) -> None:
        """Give places back (the step that took them did not commit)."""

    def start(self, rows: Sequence[outbox_repo.OutboxRow], opted_out: set[str]) -> None:
        """Send rows claimed by a step that has committed."""

    def withdrawn(self, activation_id: str, attempt_ids: Sequence[str]) -> None:
        """A committed step withdrew these attempts: drop any still waiting to be sent."""


@dataclass
class Claimed:
    """Rows a step claimed for the dispatcher, to start once (and only if) the step commits."""

    rows: list[outbox_repo.OutboxRow] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    reserved: int = 0
    #: rows written `pending`, for the dispatcher to claim
    queued: int = 0


async def write_actions(
    conn: AsyncConnection,
    row: Any,
    snapshot: Snapshot,
    actions: Sequence[Any],
    now: datetime,
    render: Renderer,
    handoff: Handoff | None,
    claimed: Claimed,
    *,
    fresh: bool = False,
) -> None:
    """Turn planner actions into outbox rows, deadlines and activity-log rows. `fresh`: the first
    step of an activation inserted in the same transaction (it has no deadlines to replace)."""
    outbox_rows: list[dict[str, Any]] = []
    schedule: dict[str, tuple[str, datetime, int]] = {}
    unschedule: set[str] = set()
    log_rows: list[dict[str, Any]] = []
    withdrawn: list[str] = []
    for action in actions:
        if isinstance(action, Withdraw):
            withdrawn.append(action.attempt_id)
        elif isinstance(action, Send):
            outbox_rows.append(
                _outbox_row(row, action, render(snapshot, row.fields, row.id, row.ref, action), now)
            )
        elif isinstance(action, Schedule):
            schedule[action.key] = (action.key, action.due_at, action.fence)
            unschedule.discard(action.key)
        elif isinstance(action, Unschedule):
            schedule.pop(action.key, None)
            unschedule.add(action.key)
        elif isinstance(action, Log):
            log_rows.append(log_row(row.id, now, action.step, action.who, action.outcome, action.problem))
        elif isinstance(action, Completed):
            log_rows.append(
                log_row(row.id, now, "completed", "system", f"completion rule {action.rule} met", None)
            )
        elif isinstance(action, TimeLimitPassed):
            log_rows.append(
                log_row(row.id, now, "time_limit", "system", "prescribed time limit passed", None)
            )
    await _insert_outbox(conn, outbox_rows, now, handoff, claimed)
    if withdrawn:
        await outbox_repo.withdraw_outbox(conn, row.id, withdrawn)
    if not fresh:  # one statement for the removed deadlines and those replaced
        await activation_repo.delete_deadlines(conn, row.id, unschedule | set(schedule))
    await activation_repo.insert_deadlines(conn, row.id, list(schedule.values()))
    await activation_repo.insert_log(conn, log_rows)


async def _insert_outbox(
    conn: AsyncConnection,
    rows: list[dict[str, Any]],
    now: datetime,
    handoff: Handoff | None,
    claimed: Claimed,
) -> None:
    window: timedelta = getattr(handoff, "bundle_window", timedelta(0))
    if window > timedelta(0):  # SMS pages wait for others to the same number (bundling.py)
        text = ChannelKind.SMS.value
        held = [v for v in rows if v["channel"] == text and v["message_kind"] in BUNDLED_KINDS]
        for values in held:
            values["not_before"] = now + window
        await outbox_repo.insert_outbox(conn, held)
        claimed.queued += len(held)
        rows = [v for v in rows if not any(v is h for h in held)]
    taken = handoff.reserve(len(rows)) if handoff is not None and rows else 0
    claimed.reserved += taken
    if taken:
        assert handoff is not None
        mine = rows[:taken]
        for values in mine:
            values.update(
                status="sending", claimed_by=handoff.worker, lease_until=now + handoff.lease, tries=1
            )
        ids = await outbox_repo.insert_outbox_returning_ids(conn, mine)
        claimed.rows.extend(
            outbox_repo.OutboxRow(
                id=row_id,
                activation_id=values["activation_id"],
                attempt_id=values["attempt_id"],
                person_id=values["person_id"],
                channel=values["channel"],
                address=values["address"],
                message_kind=values["message_kind"],
                message=values["message"],
                tries=1,
            )
            for row_id, values in zip(ids, mine, strict=True)
        )
        sms = [values["address"] for values in mine if values["channel"] == ChannelKind.SMS.value]
        if sms:
            claimed.opted_out |= await outbox_repo.opted_out_among(conn, sms)
    await outbox_repo.insert_outbox(conn, rows[taken:])
    claimed.queued += len(rows) - taken


def _outbox_row(row: Any, send: Send, message: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "activation_id": row.id,
        "attempt_id": send.attempt_id,
        "person_id": send.person_id,
        "channel": str(send.channel),
        "address": send.address,
        "message_kind": str(send.message_kind),
        "message": message,
        "tracked": 1,
        "status": "pending",
        "not_before": now,
        "tries": 0,
        "created_at": now,
    }


def log_row(
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
