"""Send results written back: outbox rows updated and the planner told, batched per activation.

No row stays `sending`: a result that cannot be stored (the database is down) is kept in memory,
its row in the in-flight window (so nothing new is claimed meanwhile), and written when the
database is back. Only a result the store keeps refusing while it answers otherwise is given up
on (logged): its row stays `sending`, and reconciliation resolves it with the provider later.

A send that certainly reached nobody and was not the message's fault (`retryable`: rate limited,
or `not_sent` with `provider_down`) goes back to the queue on the same attempt after a jittered
backoff; the planner hears `not_sent` in the same transaction and withdraws the row again if the
message stopped mattering meanwhile.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from notifier.channels.base import Outcome, SendResult
from notifier.domain.events import AttemptOutcome, ProviderFailing, ProviderStatus
from notifier.domain.ratelimit import backoff
from notifier.engine.outages import OutageWatch
from notifier.engine.stepper import Stepper
from notifier.engine.window import Window
from notifier.store import outbox_repo as repo

log = structlog.get_logger("notifier.dispatch")

#: a row, its send result, and the sender it went out from (or a detail when there is none)
Item = tuple[repo.OutboxRow, SendResult | None, str | None]

_OUTCOME_EVENT = {
    Outcome.ACCEPTED: "accepted",
    Outcome.INVALID: "invalid",
    Outcome.OPTED_OUT: "opted_out",
    Outcome.FAILED: "failed",
    Outcome.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class Finding:
    """A lookup found the row's message at the provider: when it was created, and what the
    provider reports of it now (None: nothing beyond "accepted")."""

    taken_at: datetime
    status: ProviderStatus | None


def retryable(result: SendResult) -> bool:
    """Certainly not sent, and not the message's fault: the same attempt goes again later."""
    return result.outcome is Outcome.RATE_LIMITED or (result.not_sent and result.provider_down)


class ResultWriter:
    def __init__(
        self,
        stepper: Stepper,
        window: Window,
        outages: OutageWatch,
        rng: random.Random,
        stopping: Callable[[], bool],
    ) -> None:
        self.stepper = stepper
        self.window = window
        self.outages = outages
        self._random = rng
        self._stopping = stopping
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        #: rows whose result is a lookup's finding (not a send's answer), recorded with their outcome
        self.found: dict[int, Finding] = {}
        #: send results waiting for the database to come back (kept in memory, retried)
        self.unrecorded = 0

    async def put(self, row: repo.OutboxRow, result: SendResult | None, sender: str | None) -> None:
        await self._queue.put((row, result, sender))

    async def run(self) -> None:
        """Batch outcomes per activation: one transaction updates the rows and runs the planner."""
        while True:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            by_activation: dict[str, list[Item]] = defaultdict(list)
            for item in batch:
                by_activation[item[0].activation_id].append(item)
            # concurrently: the stepper's group commit puts them in as few transactions as it can
            await asyncio.gather(
                *(self._record_and_release(aid, items) for aid, items in by_activation.items())
            )

    async def _record_and_release(self, activation_id: str, items: list[Item]) -> None:
        """Store the results; while the store is down, keep them and try again until it is back."""
        delay, refused = 0.2, 0
        try:
            while True:
                try:
                    await self._record(activation_id, items)
                    return
                except Exception as exc:
                    if refused == 0:
                        self.unrecorded += len(items)
                    refused += 1
                    if self._stopping() or (refused >= 5 and await self._store_answers()):
                        log.error(
                            "send results not recorded; left for reconciliation",
                            activation_id=activation_id,
                            rows=len(items),
                            error=repr(exc),
                        )
                        return
                    if refused == 1:
                        log.error(
                            "recording send results failed; kept in memory and retried",
                            activation_id=activation_id,
                            rows=len(items),
                            error=repr(exc),
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            if refused:
                self.unrecorded -= len(items)
            for row, _, _ in items:
                self.found.pop(row.id, None)
            self.window.release(len(items), (row.id for row, _, _ in items))

    async def _store_answers(self) -> bool:
        try:
            async with self.stepper.db.connect() as conn:
                await repo.sending_count(conn)
            return True
        except Exception:
            return False

    async def _record(self, activation_id: str, items: list[Item]) -> None:
        now = self.stepper.clock.now()
        events: list[Any] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        failing: dict[str, ProviderFailing] = {}
        for row, result, sender in items:
            assert result is not None
            if retryable(result):
                # certainly not sent: the same attempt goes back to the queue after a jittered pause
                pause = result.retry_after or backoff(max(1, row.tries), self._random.random(), cap=30.0)
                values: dict[str, Any] = {
                    "status": "pending",
                    "not_before": now + timedelta(seconds=pause),
                    "lease_until": None,
                    "claimed_by": None,
                    "error_code": result.error_code,
                    "detail": result.detail,
                }
                if row.tracked:  # the planner withdraws it again if it stopped mattering meanwhile
                    events.append(
                        AttemptOutcome(
                            attempt_id=row.attempt_id, outcome="not_sent", error_code=result.error_code
                        )
                    )
                    if (outage := self.outages.outage(row.channel)) is not None:
                        failing[outage.outage] = outage
            else:
                if not result.provider_down and result.provider and row.id not in self.found:
                    self.outages.ended(result.provider)  # (a lookup's finding says nothing of sends)
                values = {
                    "status": {Outcome.ACCEPTED: "sent", Outcome.UNKNOWN: "unknown"}.get(
                        result.outcome, "failed"
                    ),
                    "sent_at": now,
                    "sender": sender,
                    "provider": result.provider or None,
                    "provider_id": result.provider_id,
                    "error_code": result.error_code,
                    "detail": result.detail,
                    "lease_until": None,
                }
                if row.tracked:  # informed posts and upkeep messages: no planner waits for them
                    found = self.found.get(row.id)
                    events.append(
                        AttemptOutcome(
                            attempt_id=row.attempt_id,
                            outcome=_OUTCOME_EVENT[result.outcome],
                            error_code=result.error_code,
                            taken_at=found.taken_at if found is not None else None,
                        )
                    )
                    if found is not None and found.status is not None:  # what the provider says now
                        events.append(found.status)
            updates.append((row.id, values))
        events.extend(failing.values())  # the planner tells the coordinator once per outage

        async def write_rows(conn: Any) -> None:
            await repo.finish_outbox_many(conn, updates)

        if events:
            await self.stepper.submit(activation_id, events, before_save=write_rows)
        else:
            async with self.stepper.transaction() as conn:
                await write_rows(conn)
            self.stepper.outbox_changed.set()
