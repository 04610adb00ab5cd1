"""Reconciliation: what did the provider really create for messages whose send outcome was lost?

A row is left `sending` when its instance died between the provider's answer and storing it (kill
-9, power loss), or when the answer could not be stored and the instance then stopped. Sending it
again blindly pages the person twice; not sending it may lose the notification. So before any
resend the dispatcher asks the provider (`SupportsLookup.lookup`, optional) about each such row:

- the provider has a matching message or call, not yet recorded by another row: the row is
  recorded as sent with that SID, and the provider's current status is fed to the planner (a
  callback that came while no instance was listening is not lost);
- the provider has none: the row is queued and sent (it never left);
- the provider cannot look up, or cannot be asked now: the row is queued and sent, as before
  reconciliation existed; a crash then duplicates at most the in-flight window.

One provider record answers for one row: candidates already recorded by an outbox row, or matched
to an earlier row in the same pass, are skipped (two unresolved SMS with the same body to the same
person, e.g. a repeated round, take the provider's records oldest first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.channels.base import (
    Found,
    LookupFailed,
    Outcome,
    Provider,
    SendResult,
    SentQuery,
    SupportsLookup,
)
from notifier.domain.events import ProviderStatus
from notifier.engine.results import ResultWriter
from notifier.engine.stepper import Stepper
from notifier.engine.window import Window
from notifier.store import outbox_repo as repo

log = structlog.get_logger("notifier.reconcile")

#: lookups at once (each is one or a few list requests to the provider)
CONCURRENCY = 8


@dataclass
class Verdict:
    found: list[tuple[repo.OutboxRow, Found]] = field(default_factory=list)
    absent: list[repo.OutboxRow] = field(default_factory=list)  # the provider certainly has none
    unverifiable: list[repo.OutboxRow] = field(default_factory=list)  # no lookup, or it failed


def query_for(row: repo.OutboxRow, now: datetime) -> SentQuery:
    return SentQuery(
        channel=row.channel,
        to=row.address,
        text=str(row.message.get("text", "")),
        since=row.not_before or now - timedelta(days=1),
        callback_token=f"{row.activation_id}.{row.attempt_id}",
    )


async def look_up(
    rows: Sequence[repo.OutboxRow],
    providers: Mapping[str, Provider],
    db: AsyncEngine,
    now: datetime,
) -> Verdict:
    """Ask each row's provider; never raises (what cannot be asked is `unverifiable`)."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(row: repo.OutboxRow) -> list[Found] | None:
        provider = providers.get(row.channel)  # a ChannelKind value, or "chat"
        if not isinstance(provider, SupportsLookup):
            return None
        async with limit:
            try:
                return await provider.lookup(query_for(row, now))
            except LookupFailed:
                return None
            except Exception as exc:  # a provider bug must not stop reconciliation
                log.error("lookup raised", error=type(exc).__name__)
                return None

    answers = list(zip(rows, await asyncio.gather(*(one(row) for row in rows)), strict=True))
    taken: set[str] = set()
    sids = [f.provider_id for _, found in answers for f in found or []]
    if sids:
        try:
            async with db.connect() as conn:
                taken = await repo.known_provider_ids(conn, sids)
        except Exception as exc:  # cannot tell which are recorded: treat every row as unverifiable
            log.error("reconciliation could not read the outbox", error=repr(exc))
            return Verdict(unverifiable=list(rows))
    verdict = Verdict()
    for row, found in answers:
        if found is None:
            verdict.unverifiable.append(row)
            continue
        match = next((f for f in found if f.provider_id not in taken), None)
        if match is None:
            verdict.absent.append(row)
            continue
        taken.add(match.provider_id)
        verdict.found.append((row, match))
    return verdict


class Reconciler:
    """Runs lookups for the dispatcher, in the background (a slow provider must not hold up new
    sends); the rows stay in the in-flight window until their verdict is stored."""

    def __init__(
        self,
        stepper: Stepper,
        providers: Mapping[str, Provider],
        window: Window,
        results: ResultWriter,
        worker: str,
        stopping: Callable[[], bool],
    ) -> None:
        self.stepper = stepper
        self.providers = providers
        self.window = window
        self.results = results
        self.worker = worker
        self._stopping = stopping
        self._tasks: set[asyncio.Task[None]] = set()
        #: what reconciliation decided since start: found at the provider, queued again, unknown
        self.counts = {"found": 0, "requeued": 0, "unverifiable": 0}

    def soon(self, rows: Sequence[repo.OutboxRow]) -> None:
        task = asyncio.create_task(self._reconcile(rows), name="dispatch-reconcile")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _reconcile(self, rows: Sequence[repo.OutboxRow]) -> None:
        """Rows whose send outcome was lost: what the provider has is recorded as sent, with its
        current status; the rest is queued to be sent (again)."""
        log.warning("reconciling messages whose send outcome was lost", count=len(rows))
        verdict = await look_up(rows, self.providers, self.stepper.db, self.stepper.clock.now())
        self.counts["found"] += len(verdict.found)
        self.counts["requeued"] += len(verdict.absent)
        self.counts["unverifiable"] += len(verdict.unverifiable)
        for row, match in verdict.found:
            if match.status is not None:
                self.results.found_status[row.id] = ProviderStatus(
                    attempt_id=row.attempt_id, status=match.status, error_code=match.error_code
                )
            result = SendResult(Outcome.ACCEPTED, match.provider_id, None, "found at the provider")
            await self.results.put(row, result, match.sender)
        requeue = [row.id for row in (*verdict.absent, *verdict.unverifiable)]
        if requeue:
            await self._requeue(requeue)
        log.info("reconciled", **self.counts)

    async def _requeue(self, ids: list[int]) -> None:
        delay = 0.2
        while True:
            try:
                async with self.stepper.transaction() as conn:
                    await repo.requeue(conn, ids, self.worker)
                break
            except Exception as exc:  # the store is down: keep them held and retry
                if self._stopping():
                    log.error("could not requeue; their lease will", rows=len(ids), error=repr(exc))
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.window.release(len(ids), ids)
