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
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

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
from notifier.engine.results import Finding, ResultWriter
from notifier.engine.stepper import Stepper
from notifier.engine.window import Window
from notifier.store import outbox_repo as repo

log = structlog.get_logger("notifier.reconcile")

#: lookups at once (each is one or a few list requests to the provider)
CONCURRENCY = 8
#: seconds (real time) between a send whose outcome is unknown and its lookup: the provider may
#: still be working on a request we gave up on, or its list may lag its create a little
SETTLE_SECONDS = 2.0


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
    sends); the rows stay in the in-flight window until their verdict is stored.

    Two kinds of rows are looked up: rows whose send outcome was lost (`soon`: another incarnation
    left them `sending`), and sends whose outcome is unknown (`verify`: a timeout, a dropped
    connection, a 5xx the provider does not document as "not created"). The latter are looked up
    `settle` seconds after the failed request ended (real time: the provider may still be
    processing a request we gave up on), before the planner hears anything, so the person's
    acknowledgement wait starts only once the message is known to exist:

    - found: recorded as accepted, with the provider's id and current status;
    - absent: certainly not sent, so the same attempt goes back to the queue like a refused
      connection (`not_sent`; the planner withdraws it instead if it stopped mattering meanwhile);
    - the provider cannot tell: recorded as unknown, as without a lookup (the wait runs, no resend).

    Every row found absent is queued again through the planner (`not_sent`), which withdraws it in
    the same transaction when its activation or node no longer needs it (acknowledged, completed,
    cancelled, closed): nothing is sent after it stopped mattering.
    """

    def __init__(
        self,
        stepper: Stepper,
        providers: Mapping[str, Provider],
        window: Window,
        results: ResultWriter,
        worker: str,
        stopping: Callable[[], bool],
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.stepper = stepper
        self.providers = providers
        self.window = window
        self.results = results
        self.worker = worker
        self.settle = settle
        self._stopping = stopping
        self._tasks: set[asyncio.Task[None]] = set()
        self._verifying = asyncio.Semaphore(CONCURRENCY)
        #: lookups' verdicts since start: found at the provider, queued again, cannot tell
        self.counts = {"found": 0, "requeued": 0, "unverifiable": 0}

    def can_look_up(self, channel: str) -> bool:
        """Whether a provider of the channel can be asked (a failover chain always offers `lookup`,
        but over SMTP or Apprise alone it could only ever say "cannot tell")."""
        provider = self.providers.get(channel)
        members = getattr(provider, "providers", None) or [provider]
        return any(isinstance(member, SupportsLookup) for member in members)

    def soon(self, rows: Sequence[repo.OutboxRow]) -> None:
        """Rows whose send outcome was lost (a dead incarnation's, or strays of ours)."""
        self._spawn(self._reconcile(rows), "dispatch-reconcile")

    def verify(self, row: repo.OutboxRow, result: SendResult, sender: str | None) -> None:
        """A send of `row` ended with an unknown outcome (`result`): look it up before recording.
        The row gives its place in the window back meanwhile (`Window.park`)."""
        self.window.park(row.id)
        self._spawn(self._verify(row, result, sender), "dispatch-verify")

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile(self, rows: Sequence[repo.OutboxRow]) -> None:
        log.warning("reconciling messages whose send outcome was lost", count=len(rows))
        verdict = await self._look_up(rows)
        for row, match in verdict.found:
            await self._found(row, match)
        await self._requeue(verdict.absent, "absent", "not found at the provider; sending it again")
        await self._requeue(
            verdict.unverifiable, "unverifiable", "the provider cannot say if it has it; sending it again"
        )
        log.info("reconciled", **self.counts)

    async def _verify(self, row: repo.OutboxRow, result: SendResult, sender: str | None) -> None:
        await asyncio.sleep(self.settle)
        async with self._verifying:  # a storm of 500s must not become a storm of lookups
            verdict = await self._look_up([row])
        if verdict.found:
            await self._found(*verdict.found[0])
        elif verdict.absent:
            not_created = replace(
                result,
                outcome=Outcome.FAILED,
                provider_id=None,
                detail=f"not created at the provider ({result.detail})"[:200],
                provider_down=True,
                not_sent=True,
            )
            await self.results.put(row, not_created, sender)
        else:
            await self.results.put(row, result, sender)  # unknown it stays: the wait runs, no resend

    async def _look_up(self, rows: Sequence[repo.OutboxRow]) -> Verdict:
        verdict = await look_up(rows, self.providers, self.stepper.db, self.stepper.clock.now())
        self.counts["found"] += len(verdict.found)
        self.counts["requeued"] += len(verdict.absent)
        self.counts["unverifiable"] += len(verdict.unverifiable)
        return verdict

    async def _found(self, row: repo.OutboxRow, match: Found) -> None:
        """The provider has it: recorded as sent, with what the provider reports of it now."""
        status = (
            ProviderStatus(attempt_id=row.attempt_id, status=match.status, error_code=match.error_code)
            if match.status is not None
            else None
        )
        self.results.found[row.id] = Finding(match.created_at, status)
        result = SendResult(
            Outcome.ACCEPTED, match.provider_id, None, "found at the provider", provider=match.provider
        )
        await self.results.put(row, result, match.sender)

    async def _requeue(self, rows: Sequence[repo.OutboxRow], error_code: str, detail: str) -> None:
        """Back to the queue, to be sent (again): the provider does not have them, or cannot say
        (then a resend may duplicate, bounded by the in-flight window). A tracked row goes through
        the planner, which withdraws it instead if it stopped mattering; untracked rows (informed
        posts, upkeep messages) are simply queued."""
        tracked = [row for row in rows if row.tracked]
        for row in tracked:
            again = SendResult(
                Outcome.FAILED, error_code=error_code, detail=detail, provider_down=True, not_sent=True
            )
            await self.results.put(row, again, None)
        ids = [row.id for row in rows if not row.tracked]
        if not ids:
            return
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
