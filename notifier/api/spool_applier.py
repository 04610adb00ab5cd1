"""The engine's side of the webhook workers: applies their spool segments in batches (issue 19).

Woken by a datagram on `<spool dir>/engine.sock` after each of a worker's group commits (and
every `POLL` seconds regardless), it reads up to `batch` entries across the segments in arrival
order (`spool_segments.SegmentReader`) and applies them: entries of one attempt (status
callbacks, keypresses: the callback token) or of one sender's number (SMS replies) one after
another in arrival order, different ones concurrently, so that the engine's group commit
(`Stepper.submit`) writes a batch of callbacks, a broadcast's included, in a few transactions. Each TwiML
answer goes back to the worker that waits for it.

Exactly once: a segment's offset is saved only after every entry before it is applied, so a crash
re-applies at most the last batch, and each webhook's receipt (provider SID + status, committed
with its effect) makes a re-applied one a no-op. While the store is down an entry fails with a
store failure: its waiting worker is answered at once with what it can say alone, the later
entries of its attempt (or number) wait, the offsets stop before it, and the batch is retried
with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from notifier.api.engine_api import EngineAPI
from notifier.api.spool_segments import Item, SegmentReader
from notifier.api.twilio_webhooks import EMPTY_TWIML, apply_spooled, provider_id, spooled_twiml
from notifier.api.webhook_spool import is_store_failure
from notifier.api.webhook_worker import ENGINE_SOCKET
from notifier.channels.twilio.status import report_from_form
from notifier.clock import as_utc

log = structlog.get_logger("notifier.spool")

POLL = 1.0  # seconds between looks at the directory without a wake-up
ANSWERS_BYTES = 32_000  # answers in one datagram to a worker, about
SOCKET_PATH_MAX = 107  # bytes of a unix socket's path (sun_path, with its terminating NUL)
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
#: spool kinds that are delivery reports (applied together: `_reports`) -> about a call
_REPORTS = {"status": False, "call-status": True}


def _key(item: Item) -> str:
    entry = item.entry
    if entry.kind == "sms":
        return "sms:" + entry.params.get("From", "")
    if entry.token:  # one attempt's callbacks in order; a broadcast's many attempts side by side
        return "attempt:" + entry.token
    return f"entry:{item.segment.path.name}:{entry.end}"


class SpoolApplier:
    def __init__(self, directory: Path, engine: EngineAPI, base_url: str, batch: int = 1_000) -> None:
        self.reader = SegmentReader(directory, batch)
        self.directory = directory
        self.engine = engine
        self.base_url = base_url
        self.counts = {"applied": 0, "skipped": 0, "batches": 0}
        self._wake = asyncio.Event()
        self._sock: socket.socket | None = None
        self._lock = -1
        #: answers not sent yet, by the waiting worker's socket
        self._outbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._sending = False
        #: arrival times of the entries read and not applied yet, by (segment, end offset); those
        #: a store failure stopped stay until the next batch reads them again (`oldest_pending`)
        self._waiting: dict[tuple[str, int], datetime] = {}

    def open(self) -> None:
        """Take the directory (one engine applies it: RuntimeError if another holds it) and listen."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.directory / "engine.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self._lock = -1
            raise RuntimeError(f"another daemon applies the webhook spool in {self.directory}") from None
        if not self.sockets_fit:
            log.warning(
                "state_dir is too long a path for unix sockets: spooled webhooks are looked for every "
                "second and their workers answer without the engine",
                directory=str(self.directory),
            )
            return
        path = self.directory / ENGINE_SOCKET
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a previous engine's, dead (one engine per state directory)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind(str(path))
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._woken)

    def close(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
            with contextlib.suppress(FileNotFoundError):
                (self.directory / ENGINE_SOCKET).unlink()
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    @property
    def sockets_fit(self) -> bool:
        """Whether the engine's and the workers' unix socket paths fit (sun_path: 107 bytes)."""
        longest = self.directory / "w15-4194304.sock"  # a worker's answer socket (pid_max 2**22)
        return len(str(longest).encode()) <= SOCKET_PATH_MAX

    @property
    def pending_bytes(self) -> int:
        return self.reader.pending_bytes()

    def oldest_pending(self) -> datetime | None:
        """When the oldest entry of the batch being applied that is not applied yet was received;
        the engine's deadline waiter lets these go first (notifier/engine/arrivals.py)."""
        return min(self._waiting.values(), default=None)

    def _woken(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._sock.recv(64):
                pass
        self._wake.set()

    def _answer(self, item: Item, twiml: str) -> None:
        """Queue the TwiML for the worker waiting for it; the answers of one loop iteration go to
        each worker together (a unix socket queues only a few datagrams: net.unix.max_dgram_qlen)."""
        reply = item.entry.reply
        if reply is None:
            return
        self._outbox[reply[0]].append({"id": reply[1], "twiml": twiml})
        if not self._sending:
            self._sending = True
            asyncio.get_running_loop().call_soon(self._send_answers)

    def _send_answers(self) -> None:
        self._sending = False
        if self._sock is None:
            self._outbox.clear()
            return
        for path, answers in list(self._outbox.items()):
            while answers:
                size, count = 0, 0
                while count < len(answers) and (count == 0 or size < ANSWERS_BYTES):
                    size += len(answers[count]["twiml"]) + 40
                    count += 1
                try:
                    self._sock.sendto(json.dumps(answers[:count]).encode(), path)
                except BlockingIOError:  # the worker's queue is full: it is reading, try again soon
                    if not self._sending:
                        self._sending = True
                        asyncio.get_running_loop().call_later(0.002, self._send_answers)
                    break
                except OSError:  # the worker is gone (its wait, too)
                    answers.clear()
                else:
                    del answers[:count]
            if not answers:
                del self._outbox[path]

    def _answer_alone(self, item: Item) -> None:
        entry = item.entry
        if entry.reply is not None:
            self._answer(item, spooled_twiml(entry.kind, entry.token, entry.params, self.base_url))

    async def _chain(self, items: list[Item], done: set[int]) -> bool:
        """Apply one key's entries in order; False at the first store failure (the rest wait, and
        their workers are answered now with what can be said without the store)."""
        for position, item in enumerate(items):
            entry = item.entry
            if entry.kind:
                try:
                    self._answer(item, await apply_spooled(self.engine, entry, self.base_url))
                except Exception as exc:
                    if is_store_failure(exc):
                        for waiting in items[position:]:
                            self._answer_alone(waiting)
                        return False
                    self.counts["skipped"] += 1
                    log.error("spooled webhook not applied; skipped", kind=entry.kind, error=repr(exc))
            done.add(id(item))
            self._waiting.pop((item.segment.path.name, entry.end), None)
        return True

    async def _reports(self, chains: list[list[Item]], done: set[int]) -> bool:
        """Apply the chains of delivery reports (status callbacks) together: the engine writes one
        step per activation, in each the reports in arrival order. False at a store failure (their
        workers answered alone, as in `_chain`); any other failure: each chain on its own, as
        before, so that a bad entry is skipped alone (what committed is a replay then)."""
        items = [item for chain in chains for item in chain]
        if not items:
            return True
        reports = []
        for item in items:
            report = report_from_form(item.entry.params, call=_REPORTS[item.entry.kind])
            if report is not None and item.entry.token:
                reports.append((item.entry.token, report))
        try:
            await self.engine.delivery_reports(reports)
        except Exception as exc:
            if is_store_failure(exc):
                for item in items:
                    self._answer_alone(item)
                return False
            log.warning("delivery reports not applied together; one by one", error=repr(exc))
            return all(await asyncio.gather(*(self._chain(chain, done) for chain in chains)))
        for item in items:
            self._answer(item, EMPTY_TWIML)
            done.add(id(item))
            self._waiting.pop((item.segment.path.name, item.entry.end), None)
        return True

    async def apply_batch(self) -> int:
        """Read and apply one batch; how many entries it held. Raises on a store failure (after
        saving the offsets of what was applied)."""
        items = await asyncio.to_thread(self.reader.read_batch)
        self._waiting.clear()  # what a failed batch left is read again here (or was applied meanwhile)
        if not items:
            return 0
        chains: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            chains[_key(item)].append(item)
            try:
                at = as_utc(datetime.fromisoformat(item.entry.at)) or _LONG_AGO
            except ValueError:
                at = _LONG_AGO
            self._waiting[(item.segment.path.name, item.entry.end)] = at
        sids = {sid for item in items if (sid := provider_id(item.entry.params))}
        try:  # which were applied before, in one read instead of one per webhook
            await self.engine.expect_webhooks(sids)
        except Exception as exc:
            if not is_store_failure(exc):
                raise
            for item in items:
                self._answer_alone(item)
            raise
        done: set[int] = set()
        reports: list[list[Item]] = []
        others: list[list[Item]] = []
        for chain in chains.values():
            only = all(i.entry.kind in _REPORTS and i.entry.token for i in chain)
            (reports if only else others).append(chain)
        try:
            results = await asyncio.gather(
                self._reports(reports, done), *(self._chain(chain, done) for chain in others)
            )
        finally:
            await self.engine.expect_webhooks(())
        offsets: dict[str, int] = {}
        stopped: set[str] = set()
        for item in items:  # each segment's offset: up to its first entry not applied
            name = item.segment.path.name
            if name in stopped:
                continue
            if id(item) in done:
                offsets[name] = item.entry.end
            else:
                stopped.add(name)
        await asyncio.to_thread(self.reader.save, offsets)
        applied = len(done)
        self.counts["applied"] += applied
        self.counts["batches"] += 1
        if not all(results):
            raise ConnectionError(f"the store is unavailable; {len(items) - applied} spooled webhooks wait")
        return len(items)

    async def run(self) -> None:
        """Apply batches as workers spool them, retrying with a backoff while the store is down."""
        delay = 0.2
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL)
            self._wake.clear()
            try:
                while await self.apply_batch():
                    pass
                delay = 0.2
                await asyncio.to_thread(self.reader.collect)
            except Exception as exc:
                log.info(
                    "spooled webhooks wait for the store",
                    pending_bytes=self.reader.pending_bytes(),
                    error=type(exc).__name__,
                )
                await self._pause(delay)
                delay = min(delay * 2, 5.0)
                self._wake.set()

    async def _pause(self, delay: float) -> None:
        """The backoff while the store is down. Workers waiting for an answer meanwhile are answered
        at once with what they can say alone (past the first batch's entries, their wait runs out)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while (left := end - loop.time()) > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)
            if self._wake.is_set():
                for item in await asyncio.to_thread(self.reader.read_batch):
                    self._answer_alone(item)
