"""The dispatcher: claims outbox rows, sends them through providers, feeds the outcome back.

Provider-honest (DESIGN §6): each sender number keeps its configured rate (a pool spreads load),
at most `max_in_flight` requests are open at once, a rate-limit refusal is retried after a backoff
(the provider never processed it), and a send whose outcome is unknown (timeout, 5xx) is recorded,
not retried: escalation moves on after the ack wait instead of risking a duplicate page. Which
provider sends is the failover chain's business (`notifier.channels.failover`).

No row stays `sending`: a send result that cannot be stored (the database is down) is kept in
memory, its row in the in-flight window, and written when the database is back. Rows another
incarnation left `sending` (a crash: at start-up, and expired leases of dead instances on every
claim) are reconciled before anything is sent again (`_reconcile`): a provider that supports
`lookup` says whether it created the message, and only what it does not have is queued again.

A provider's failure is not the person's (issue 12): a send that certainly reached nobody because
the provider failed (`not_sent` with `provider_down`: refused connection, DNS or TLS failure, a 5xx
documented as not created) goes back to the queue on the same attempt after a jittered backoff,
like a rate-limit refusal, and the planner hears `not_sent` (it withdraws the row again if the
message stopped mattering meanwhile). While every provider of a channel is out of service (the
failover chain's cool-down) that channel's rows are held in the queue rather than sent one by one
into a dead endpoint; each activation with messages waiting on it is told once per outage
(`ProviderFailing`: the coordinator hears of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog

from notifier.channels.base import OutboundMessage, Outcome, Provider, SendResult
from notifier.clock import Clock
from notifier.domain.events import AttemptOutcome, ProviderFailing, ProviderStatus
from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind
from notifier.domain.ratelimit import SenderPool, backoff
from notifier.engine import bundling, reconcile
from notifier.engine.stepper import Stepper
from notifier.store import outbox_repo as repo

log = structlog.get_logger("notifier.dispatch")
_KINDS = frozenset(kind.value for kind in ChannelKind)

_OUTCOME_EVENT = {
    Outcome.ACCEPTED: "accepted",
    Outcome.INVALID: "invalid",
    Outcome.OPTED_OUT: "opted_out",
    Outcome.FAILED: "failed",
    Outcome.UNKNOWN: "unknown",
}


def retryable(result: SendResult) -> bool:
    """Certainly not sent, and not the message's fault: the same attempt goes again later."""
    return result.outcome is Outcome.RATE_LIMITED or (result.not_sent and result.provider_down)


class Dispatcher:
    def __init__(
        self,
        stepper: Stepper,
        providers: Mapping[str, Provider],
        pools: dict[ChannelKind, SenderPool],
        clock: Clock,
        max_in_flight: int = 50,
        lease: timedelta = timedelta(seconds=4),
        bundle_window: timedelta = timedelta(0),
    ) -> None:
        self.stepper = stepper
        self.providers = providers
        self.pools = pools
        self.clock = clock
        self.max_in_flight = max_in_flight
        # A claimed row carries a lease that this instance renews while it lives (`_heartbeat`); when
        # an instance dies its rows go back to the queue once the lease runs out, so another instance
        # takes over within seconds. Counted on the engine's clock, so scaled like it in tests.
        self.lease = lease * _scale(clock)
        self.lease_real_seconds = lease.total_seconds()
        self.bundle_window = bundle_window
        self.worker = f"w-{uuid.uuid4().hex[:10]}"
        # rows claimed and not yet written back: the in-flight window (a row stays in it until its
        # result is stored, so a crash can never duplicate more than `max_in_flight` messages)
        self._held = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[tuple[repo.OutboxRow, SendResult | None, str | None]] = asyncio.Queue()
        self._stopping = False
        self._running = False
        self._drain_timeout = 10.0
        self._random = random.Random()
        #: provider answers had since start (benchmarks and /metrics-style progress read it)
        self.sent_count = 0
        #: rows taken over from a dead incarnation, reconciled before the first claim
        self._orphans: list[repo.OutboxRow] = []
        #: the provider's current status of rows found by a lookup, recorded with their outcome
        self._found_status: dict[int, ProviderStatus] = {}
        self._reconciling: set[asyncio.Task[None]] = set()
        #: what reconciliation decided since start: found at the provider, queued again, unknown
        self.reconciled = {"found": 0, "requeued": 0, "unverifiable": 0}
        #: send results waiting for the database to come back (kept in memory, retried)
        self.unrecorded = 0
        #: (activation, attempt) of rows claimed and still waiting for their sender's slot, and
        #: those of them withdrawn meanwhile: they are dropped, not sent (`withdrawn`)
        self._waiting: set[tuple[str, str]] = set()
        self._stopped: set[tuple[str, str]] = set()
        #: provider outages by the providers down -> when first seen (names `ProviderFailing.outage`)
        self._outages: dict[str, str] = {}
        #: ids of the rows in the in-flight window; a row `sending` under our name that is not
        #: here twice running (a claim whose commit answer was lost, a cancelled send) is a stray
        self._holding: set[int] = set()
        self._suspects: set[int] = set()

    @property
    def in_flight(self) -> int:
        return self._held

    def _release(self, count: int) -> None:
        self._held -= count
        self.stepper.outbox_changed.set()

    # --- the hand-off from steps (writes.py): rows claimed in the step that created them -------
    def reserve(self, wanted: int) -> int:
        if self._stopping or not self._running or self.held_channels():
            return 0  # (while a channel is held, rows wait for the claim, which leaves them queued)
        taken = max(0, min(wanted, self.max_in_flight - self._held))
        self._held += taken
        return taken

    def unreserve(self, count: int) -> None:
        self._release(count)

    def withdrawn(self, activation_id: str, attempt_ids: Sequence[str]) -> None:
        """A committed step withdrew these attempts: a row of ours still waiting for its sender's
        slot is dropped rather than sent (one already with the provider finishes)."""
        for attempt_id in attempt_ids:
            if (activation_id, attempt_id) in self._waiting:
                self._stopped.add((activation_id, attempt_id))

    def start(self, rows: Sequence[repo.OutboxRow], opted_out: set[str]) -> None:
        self._holding.update(row.id for row in rows)
        for row in rows:
            task = asyncio.create_task(self._send(row, row.address in opted_out))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def recover(self) -> int:
        """At start-up: take over the rows a previous incarnation left in flight (on SQLite only
        one instance runs, so every row in flight is ours; on PostgreSQL other live instances
        renew theirs, and only leases that ran out are taken). `run` reconciles them with the
        provider (in the background; they stay in the in-flight window meanwhile). Returns how
        many were taken over."""
        single = self.stepper.db.dialect.name == "sqlite"
        async with self.stepper.transaction() as conn:
            self._orphans = await repo.take_over_in_flight(
                conn, self.clock.now(), self.worker, self.lease, every_other=single
            )
        self._held += len(self._orphans)
        self._holding.update(row.id for row in self._orphans)
        return len(self._orphans)

    async def run(self) -> None:
        self._running = True
        writer = asyncio.create_task(self._write_results(), name="dispatch-results")
        heartbeat = asyncio.create_task(self._heartbeat(), name="dispatch-heartbeat")
        try:
            if self._orphans:  # in the background: a slow provider must not hold up new sends
                orphans, self._orphans = self._orphans, []
                self._reconcile_soon(orphans)
            while not self._stopping:
                try:
                    claimed = await self._claim_and_start()
                    if not claimed:
                        await self._idle()
                except Exception as exc:  # the store may be briefly unavailable: log, back off, go on
                    log.error("dispatch loop error", error=repr(exc))
                    await asyncio.sleep(0.5)
            await self._drain(self._drain_timeout)
        finally:
            self._running = False
            for task in list(self._reconciling):
                task.cancel()
            for task in (heartbeat, writer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _heartbeat(self) -> None:
        """Renew the leases of the rows this instance holds, a few times per lease; and reconcile
        strays: rows `sending` under this instance's name that it does not hold (the commit of
        their claim succeeded but its answer was lost with the connection, or their send was
        cancelled). Nobody else would ever take them over while this instance renews them."""
        while True:
            await asyncio.sleep(self.lease_real_seconds / 3)
            try:
                if self._held:
                    async with self.stepper.transaction() as conn:
                        await repo.renew_leases(conn, self.worker, self.clock.now() + self.lease)
                async with self.stepper.db.connect() as conn:  # a plain read, no write lock
                    mine = await repo.sending_ids(conn, self.worker)
            except Exception as exc:  # a missed renewal is retried; the lease outlives two of them
                log.warning("lease renewal failed", error=repr(exc))
                continue
            strays = {i for i in mine if i not in self._holding}
            confirmed, self._suspects = strays & self._suspects, strays - self._suspects
            if confirmed and not self._stopping:
                await self._adopt_strays(sorted(confirmed))

    async def _adopt_strays(self, ids: list[int]) -> None:
        try:
            async with self.stepper.db.connect() as conn:
                rows = await repo.rows_by_id(conn, ids)
        except Exception as exc:
            log.warning("could not read stray rows", error=repr(exc))
            return
        rows = [row for row in rows if row.id not in self._holding]
        if not rows:
            return
        log.warning("rows left sending by this instance without a send under way", count=len(rows))
        self._held += len(rows)
        self._holding.update(row.id for row in rows)
        self._reconcile_soon(rows)

    async def _claim_and_start(self) -> int:
        free = self.max_in_flight - self._held
        if free <= 0:
            return 0
        async with self.stepper.transaction() as conn:
            now = self.clock.now()
            # rows of instances that died: reconciled with the provider, not blindly sent again
            orphans = await repo.take_over_in_flight(conn, now, self.worker, self.lease, limit=free)
            rows = await repo.claim_outbox(
                conn, now, free - len(orphans), self.worker, self.lease, held=self.held_channels()
            )
            bundles: list[list[repo.OutboxRow]] = []
            if self.bundle_window > timedelta(0):
                rows, bundles = await bundling.sweep(conn, rows, now, self.worker, self.lease)
            sms = [row.address for row in rows if row.channel == ChannelKind.SMS.value]
            sms += [bundle[0].address for bundle in bundles]
            opted_out = await repo.opted_out_among(conn, sms) if sms else set()
        self._held += len(rows) + len(orphans) + sum(len(bundle) for bundle in bundles)
        self._holding.update(row.id for row in orphans)
        if orphans:
            self._reconcile_soon(orphans)
        self.start(rows, opted_out)
        for bundle in bundles:  # one SMS for several activations' pages to one number
            self._holding.update(row.id for row in bundle)
            task = asyncio.create_task(self._send(bundle[0], bundle[0].address in opted_out, bundle[1:]))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(rows) + len(orphans) + sum(len(bundle) for bundle in bundles)

    def _reconcile_soon(self, rows: Sequence[repo.OutboxRow]) -> None:
        task = asyncio.create_task(self._reconcile(rows), name="dispatch-reconcile")
        self._reconciling.add(task)
        task.add_done_callback(self._reconciling.discard)

    async def _reconcile(self, rows: Sequence[repo.OutboxRow]) -> None:
        """Rows whose send outcome was lost (`reconcile.py`): what the provider has is recorded as
        sent, with its current status; the rest is queued to be sent (again)."""
        log.warning("reconciling messages whose send outcome was lost", count=len(rows))
        verdict = await reconcile.look_up(rows, self.providers, self.stepper.db, self.clock.now())
        self.reconciled["found"] += len(verdict.found)
        self.reconciled["requeued"] += len(verdict.absent)
        self.reconciled["unverifiable"] += len(verdict.unverifiable)
        for row, match in verdict.found:
            if match.status is not None:
                self._found_status[row.id] = ProviderStatus(
                    attempt_id=row.attempt_id, status=match.status, error_code=match.error_code
                )
            result = SendResult(Outcome.ACCEPTED, match.provider_id, None, "found at the provider")
            await self._results.put((row, result, match.sender))
        requeue = [row.id for row in (*verdict.absent, *verdict.unverifiable)]
        if requeue:
            await self._requeue(requeue)
        log.info("reconciled", **self.reconciled)

    async def _requeue(self, ids: list[int]) -> None:
        delay = 0.2
        while True:
            try:
                async with self.stepper.transaction() as conn:
                    await repo.requeue(conn, ids, self.worker)
                break
            except Exception as exc:  # the store is down: keep them held and retry
                if self._stopping:
                    log.error("could not requeue; their lease will", rows=len(ids), error=repr(exc))
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._holding.difference_update(ids)
        self._release(len(ids))

    def held_channels(self) -> list[str]:
        """Channels whose every provider is out of service (in the failover chain's cool-down)."""
        held = []
        for channel, provider in self.providers.items():
            status = getattr(provider, "status", None)
            if status is not None and not any(status().values()):
                held.append(str(channel))
        return held

    def providers_in_service(self) -> dict[str, bool]:
        """Provider name -> in service (False while it fails: its messages wait and are retried)."""
        found: dict[str, bool] = {}
        for provider in self.providers.values():
            status = getattr(provider, "status", None)
            found.update(status() if status is not None else {getattr(provider, "name", "?"): True})
        return found

    def _status_of(self, channel: str) -> dict[str, bool]:
        status = getattr(self.providers.get(channel), "status", None)
        return dict(status()) if status is not None else {}

    def _outage(self, channel: str) -> ProviderFailing | None:
        """The outage a channel's rows are waiting out, named once from when it began."""
        provider = self.providers.get(channel)
        status = getattr(provider, "status", None)
        if provider is None or status is None:
            return None
        down = sorted(name for name, up in status().items() if not up)
        if not down or len(down) < len(status()):
            return None  # another provider still serves the channel
        key = "+".join(down)
        began = self._outages.setdefault(key, self.clock.now().isoformat(timespec="seconds"))
        carried = sorted(c for c in self.providers if c in _KINDS and set(self._status_of(c)) & set(down))
        return ProviderFailing(
            outage=f"{key}@{began}",
            channels=tuple(ChannelKind(c) for c in carried),
            detail=f"{key} not reachable",
        )

    async def _idle(self) -> None:
        changed = self.stepper.outbox_changed
        changed.clear()
        timeout = 1.0
        if self.held_channels():
            # their rows are due but held: look again now and then, not in a tight loop
            timeout = min(1.0, max(0.05, 1.0 / _scale(self.clock)))
        elif self.in_flight < self.max_in_flight:
            # a plain read: it must not queue behind the write lock the steps hold on SQLite
            async with self.stepper.db.connect() as conn:
                upcoming = await repo.next_outbox_time(conn)
            if upcoming is not None:
                seconds = (upcoming - self.clock.now()).total_seconds() / _scale(self.clock)
                timeout = max(0.0, min(timeout, seconds))
        # a finished send sets `outbox_changed` too (below), so a full window wakes as a slot frees
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=timeout)

    async def _send(
        self, row: repo.OutboxRow, opted_out: bool = False, also: Sequence[repo.OutboxRow] = ()
    ) -> None:
        """Send `row` (with `also`: rows bundled into the same SMS, which share its result)."""
        structlog.contextvars.bind_contextvars(activation_id=row.activation_id)  # this task's own context
        key = (row.activation_id or "", row.attempt_id)
        try:
            channel = row.channel  # a ChannelKind value, or "chat" (informed posts)
            sender: str | None = None
            pool = self.pools.get(ChannelKind(channel)) if channel in _KINDS else None
            if pool is not None:
                reservation = pool.reserve(self.clock.now().timestamp())
                sender = reservation.sender
                if not also and row.tracked:
                    self._waiting.add(key)
                try:
                    await self.clock.sleep(reservation.at - self.clock.now().timestamp())
                finally:
                    self._waiting.discard(key)
                if key in self._stopped and await self._drop(row):
                    return
            result, detail = await self._attempt(row, channel, sender, opted_out)
            if result is not None and result.outcome is Outcome.RATE_LIMITED and pool is not None and sender:
                pause = result.retry_after or backoff(row.tries, self._random.random())
                pool.penalise(sender, self.clock.now().timestamp() + pause)
        except BaseException:
            for held in (row, *also):
                self._holding.discard(held.id)  # no result to write: reconciled as a stray (`_strays`)
            self._release(1 + len(also))
            raise
        for sent in (row, *also):
            await self._results.put((sent, result, sender if detail is None else detail))

    async def _drop(self, row: repo.OutboxRow) -> bool:
        """Withdraw a claimed row that never reached the provider; False: keep it (store down)."""
        self._stopped.discard((row.activation_id or "", row.attempt_id))
        try:
            async with self.stepper.transaction() as conn:
                await repo.withdraw_claimed(conn, row.id, self.worker)
        except Exception as exc:  # it goes out after all, recorded as sent after the stop
            log.warning("could not withdraw a claimed message; sending it", error=repr(exc))
            return False
        self._holding.discard(row.id)
        self._release(1)
        return True

    async def _attempt(
        self, row: repo.OutboxRow, channel: str, sender: str | None, opted_out: bool
    ) -> tuple[SendResult | None, str | None]:
        if opted_out:  # the person texted STOP: no provider is asked to message the number
            return SendResult(Outcome.OPTED_OUT, None, "opted-out", "number opted out by STOP", None), None
        provider = self.providers.get(channel)
        if provider is None:
            return SendResult(Outcome.FAILED, None, None, f"no provider for {channel}", None), None
        message = OutboundMessage(
            attempt_id=row.attempt_id,
            channel=channel,
            to=row.address,
            text=row.message.get("text", ""),
            subject=row.message.get("subject"),
            html=row.message.get("html"),
            validity_period_s=row.message.get("validity_period_s"),
            callback_token=f"{row.activation_id}.{row.attempt_id}",
        )
        try:
            result = await provider.send(message, sender)
        except Exception as exc:  # a provider bug must not kill the dispatcher; the outcome is unknown
            log.error("provider raised", provider=getattr(provider, "name", "?"), error=type(exc).__name__)
            result = SendResult(Outcome.UNKNOWN, None, None, f"provider error: {type(exc).__name__}", None)
        self.sent_count += 1
        log.debug(
            "sent",
            activation_id=row.activation_id,
            attempt=row.attempt_id,
            channel=row.channel,
            to=mask_address(row.address),
            outcome=str(result.outcome),
        )
        return result, None

    async def _write_results(self) -> None:
        """Batch outcomes per activation: one transaction updates the rows and runs the planner."""
        while True:
            first = await self._results.get()
            batch = [first]
            while not self._results.empty() and len(batch) < 500:
                batch.append(self._results.get_nowait())
            by_activation: dict[str, list[tuple[repo.OutboxRow, SendResult | None, str | None]]] = (
                defaultdict(list)
            )
            for item in batch:
                by_activation[item[0].activation_id].append(item)
            # concurrently: the stepper's group commit puts them in as few transactions as it can
            await asyncio.gather(
                *(self._record_and_release(aid, items) for aid, items in by_activation.items())
            )

    async def _record_and_release(
        self, activation_id: str, items: list[tuple[repo.OutboxRow, SendResult | None, str | None]]
    ) -> None:
        """Store the results; while the store is down, keep them (their rows stay in the in-flight
        window, so nothing new is claimed meanwhile) and try again until it is back. Only a result
        the store keeps refusing while it answers otherwise is given up on (logged): its row stays
        `sending`, and the next start-up reconciles it with the provider."""
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
                    if self._stopping or (refused >= 5 and await self._store_answers()):
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
                self._found_status.pop(row.id, None)
                self._holding.discard(row.id)
            self._release(len(items))

    async def _store_answers(self) -> bool:
        try:
            async with self.stepper.db.connect() as conn:
                await repo.sending_count(conn)
            return True
        except Exception:
            return False

    async def _record(
        self, activation_id: str, items: list[tuple[repo.OutboxRow, SendResult | None, str | None]]
    ) -> None:
        now = self.clock.now()
        events: list[Any] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        failing: dict[str, ProviderFailing] = {}
        for row, result, sender in items:
            assert result is not None
            if retryable(result):
                # certainly not sent: the same attempt goes back to the queue after a jittered pause
                pause = result.retry_after or backoff(row.tries, self._random.random(), cap=30.0)
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
                    if (outage := self._outage(row.channel)) is not None:
                        failing[outage.outage] = outage
            else:
                if not result.provider_down and result.provider:
                    self._end_outages(result.provider)
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
                    events.append(
                        AttemptOutcome(
                            attempt_id=row.attempt_id,
                            outcome=_OUTCOME_EVENT[result.outcome],
                            error_code=result.error_code,
                        )
                    )
                    found = self._found_status.get(row.id)
                    if found is not None:  # a lookup found it: what the provider says of it now
                        events.append(found)
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

    def _end_outages(self, provider: str) -> None:
        for key in [k for k in self._outages if provider in k.split("+")]:
            del self._outages[key]

    def stop(self, timeout: float) -> None:
        """Stop claiming new rows; `run` then waits up to `timeout` for in-flight sends and their
        results to be written before it returns (SIGTERM drains rather than drops)."""
        self._stopping = True
        self._drain_timeout = timeout
        self.stepper.outbox_changed.set()

    async def _drain(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)
        while self._held > 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)


def _scale(clock: Clock) -> float:
    return float(getattr(clock, "scale", 1.0))
