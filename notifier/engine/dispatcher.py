"""The dispatcher: claims outbox rows, sends them through providers, feeds the outcome back.

Provider-honest (DESIGN §6): each sender number keeps its configured rate (a pool spreads load),
at most `max_in_flight` requests are open at once (`window.py`), a rate-limit refusal is retried
after a backoff (the provider never processed it), and a send whose outcome is unknown (timeout,
a plain 5xx) is never retried blindly: it is looked up at the provider first (`Reconciler.verify`)
and sent again only if the provider does not have it; when the provider cannot say, it is recorded
as unknown and escalation moves on after the ack wait instead of risking a duplicate page. Which
provider sends is the failover chain's business (`notifier.channels.failover`).

The parts: this module claims rows and sends them; `results.py` writes the results back (kept in
memory while the database is down, so no row stays `sending`); `reconcile.py` resolves rows whose
send outcome was lost by asking the provider before anything is sent again (rows another
incarnation left `sending`: at start-up, expired leases of dead instances on every claim, and
strays of our own); `outages.py` tracks provider health.

A provider's failure is not the person's (issue 12): a send that certainly reached nobody because
the provider failed goes back to the queue on the same attempt after a jittered backoff, like a
rate-limit refusal (`results.retryable`). While every provider of a channel is out of service
that channel's rows are held in the queue rather than sent one by one into a dead endpoint; each
activation with messages waiting on it is told once per outage (`ProviderFailing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog

from notifier.channels.base import OutboundMessage, Outcome, Provider, SendResult
from notifier.clock import Clock
from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind
from notifier.domain.ratelimit import SenderPool, backoff
from notifier.engine import bundling
from notifier.engine.outages import KINDS, OutageWatch
from notifier.engine.reconcile import Reconciler
from notifier.engine.results import ResultWriter
from notifier.engine.stepper import Stepper
from notifier.engine.window import Window
from notifier.store import outbox_repo as repo

log = structlog.get_logger("notifier.dispatch")


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
        # rows claimed and not yet written back (a row stays in it until its result is stored, so a
        # crash can never duplicate more than `max_in_flight` messages)
        self.window = Window(max_in_flight, stepper.outbox_changed)
        self.outages = OutageWatch(providers, clock)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._running = False
        self._drain_timeout = 10.0
        self._random = random.Random()
        self.results = ResultWriter(stepper, self.window, self.outages, self._random, self.stopping)
        self.reconciler = Reconciler(
            stepper, providers, self.window, self.results, self.worker, self.stopping
        )
        #: provider answers had since start (benchmarks and /metrics-style progress read it)
        self.sent_count = 0
        #: rows taken over from a dead incarnation, reconciled before the first claim
        self._orphans: list[repo.OutboxRow] = []
        #: (activation, attempt) of rows claimed and still waiting for their sender's slot, and
        #: those of them withdrawn meanwhile: they are dropped, not sent (`withdrawn`)
        self._waiting: set[tuple[str, str]] = set()
        self._stopped: set[tuple[str, str]] = set()
        #: rows `sending` under our name and not in the window at the last look: strays if still so
        self._suspects: set[int] = set()

    @property
    def in_flight(self) -> int:
        """Rows of ours not yet written back (those being looked up included)."""
        return self.window.busy

    @property
    def reconciled(self) -> dict[str, int]:
        """What reconciliation decided since start: found at the provider, queued again, unknown."""
        return self.reconciler.counts

    @property
    def unrecorded(self) -> int:
        """Send results waiting for the database to come back (kept in memory, retried)."""
        return self.results.unrecorded

    def stopping(self) -> bool:
        return self._stopping

    def held_channels(self) -> list[str]:
        """Channels whose every provider is out of service (in the failover chain's cool-down)."""
        return self.outages.held_channels()

    def providers_in_service(self) -> dict[str, bool]:
        """Provider name -> in service (False while it fails: its messages wait and are retried)."""
        return self.outages.in_service()

    # --- the hand-off from steps (writes.py): rows claimed in the step that created them -------
    def reserve(self, wanted: int) -> int:
        if self._stopping or not self._running or self.held_channels():
            return 0  # (while a channel is held, rows wait for the claim, which leaves them queued)
        taken = max(0, min(wanted, self.window.free))
        self.window.take(taken)
        return taken

    def unreserve(self, count: int) -> None:
        self.window.release(count)

    def withdrawn(self, activation_id: str, attempt_ids: Sequence[str]) -> None:
        """A committed step withdrew these attempts: a row of ours still waiting for its sender's
        slot is dropped rather than sent (one already with the provider finishes)."""
        for attempt_id in attempt_ids:
            if (activation_id, attempt_id) in self._waiting:
                self._stopped.add((activation_id, attempt_id))

    def start(self, rows: Sequence[repo.OutboxRow], opted_out: set[str]) -> None:
        self.window.track(row.id for row in rows)
        for row in rows:
            self._spawn(self._send(row, row.address in opted_out))

    def _spawn(self, send: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(send)
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
        self.window.take(len(self._orphans), (row.id for row in self._orphans))
        return len(self._orphans)

    async def run(self) -> None:
        self._running = True
        writer = asyncio.create_task(self.results.run(), name="dispatch-results")
        heartbeat = asyncio.create_task(self._heartbeat(), name="dispatch-heartbeat")
        try:
            if self._orphans:  # in the background: a slow provider must not hold up new sends
                orphans, self._orphans = self._orphans, []
                self.reconciler.soon(orphans)
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
            self.reconciler.cancel()
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
                if self.window.busy:
                    async with self.stepper.transaction() as conn:
                        await repo.renew_leases(conn, self.worker, self.clock.now() + self.lease)
                async with self.stepper.db.connect() as conn:  # a plain read, no write lock
                    mine = await repo.sending_ids(conn, self.worker)
            except Exception as exc:  # a missed renewal is retried; the lease outlives two of them
                log.warning("lease renewal failed", error=repr(exc))
                continue
            strays = {i for i in mine if i not in self.window.holding}
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
        rows = [row for row in rows if row.id not in self.window.holding]
        if not rows:
            return
        log.warning("rows left sending by this instance without a send under way", count=len(rows))
        self.window.take(len(rows), (row.id for row in rows))
        self.reconciler.soon(rows)

    async def _claim_and_start(self) -> int:
        free = self.window.free
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
        self.window.take(len(rows) + len(orphans) + sum(len(bundle) for bundle in bundles))
        self.window.track(row.id for row in orphans)
        if orphans:
            self.reconciler.soon(orphans)
        self.start(rows, opted_out)
        for bundle in bundles:  # one SMS for several activations' pages to one number
            self.window.track(row.id for row in bundle)
            self._spawn(self._send(bundle[0], bundle[0].address in opted_out, bundle[1:]))
        return len(rows) + len(orphans) + sum(len(bundle) for bundle in bundles)

    async def _idle(self) -> None:
        changed = self.stepper.outbox_changed
        changed.clear()
        timeout = 1.0
        if self.held_channels():
            # their rows are due but held: look again now and then, not in a tight loop
            timeout = min(1.0, max(0.05, 1.0 / _scale(self.clock)))
        elif self.window.free > 0:
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
            pool = self.pools.get(ChannelKind(channel)) if channel in KINDS else None
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
            if result is not None and result.outcome is Outcome.UNKNOWN and self._verifiable(row, also):
                # it may or may not exist at the provider: look it up before anyone is told
                self.reconciler.verify(row, result, sender)
                return
        except BaseException:
            # no result to write: the rows are reconciled as strays (`_heartbeat`)
            self.window.release(1 + len(also), (held.id for held in (row, *also)))
            raise
        for sent in (row, *also):
            await self.results.put(sent, result, sender if detail is None else detail)

    def _verifiable(self, row: repo.OutboxRow, also: Sequence[repo.OutboxRow]) -> bool:
        """A send of unknown outcome the provider can be asked about (a bundle's SMS names several
        incidents: its text is no row's, so it stays unknown, as without a lookup)."""
        return not also and self.reconciler.can_look_up(row.channel)

    async def _drop(self, row: repo.OutboxRow) -> bool:
        """Withdraw a claimed row that never reached the provider; False: keep it (store down)."""
        self._stopped.discard((row.activation_id or "", row.attempt_id))
        try:
            async with self.stepper.transaction() as conn:
                await repo.withdraw_claimed(conn, row.id, self.worker)
        except Exception as exc:  # it goes out after all, recorded as sent after the stop
            log.warning("could not withdraw a claimed message; sending it", error=repr(exc))
            return False
        self.window.release(1, (row.id,))
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
        while self.window.busy > 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)


def _scale(clock: Clock) -> float:
    return float(getattr(clock, "scale", 1.0))
