"""A local durable spool for provider webhooks the database cannot take now (issue 12).

Twilio does not retry an inbound SMS webhook: a reply answered 5xx while the database is down is
gone. So a verified webhook that cannot be applied (the store fails), or that arrives while older
ones wait in the spool (order), or in a burst beyond what the engine is applying at once, is
appended here, fsync'd, and only then answered 200. A background task (`run`) applies the entries
in order once the store answers again; each webhook's receipt (`notifier/store/receipts.py`)
makes an entry applied twice (a crash between applying it and recording that) a no-op.

Format: one JSON object per line (JSON Lines, UTF-8) in `<state dir>/webhooks-<port>.spool`:
`{"v": 1, "at": "<ISO time received>", "kind": "sms|status|call-status|voice|gather",
"token": "<callback token or null>", "params": {<the verified form>}}`. Beside it,
`<spool>.done` holds the byte offset up to which entries are applied (written atomically). When
everything is applied the spool is emptied. A line cut short by a crash while it was appended was
never answered 200 and is dropped at start-up; a line that does not parse is logged and skipped.

Bounded: past `max_bytes` nothing more is appended (logged once per episode as "webhook spool
full"); the webhook is then answered as before the spool existed (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from notifier.engine.contract import StoreUnavailable

log = structlog.get_logger("notifier.spool")

#: what a store that is down raises (the API answers these 503)
STORE_FAILURES = (DBAPIError, PoolTimeout, ConnectionError, StoreUnavailable, OSError)
_BATCH = 200  # entries read at once while draining
_SAVE_EVERY = 50  # applied entries between two saves of the offset


def is_store_failure(exc: BaseException) -> bool:
    return isinstance(exc, STORE_FAILURES)


@dataclass(frozen=True)
class SpoolEntry:
    kind: str
    token: str | None
    params: dict[str, str]
    at: str
    end: int  # byte offset just past this entry's line
    #: (the worker's answer socket, request number): a webhook worker waits for the TwiML answer
    reply: tuple[str, int] | None = None


def encode_entry(
    kind: str, token: str | None, params: dict[str, str], at: datetime, reply: tuple[str, int] | None = None
) -> bytes:
    """One spool line (the format above; `reply` only in a webhook worker's segment)."""
    record: dict[str, Any] = {"v": 1, "at": at.isoformat(), "kind": kind, "token": token, "params": params}
    if reply is not None:
        record["reply"] = list(reply)
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def parse_entry(line: bytes, end: int) -> SpoolEntry:
    """The entry of one complete line; ValueError, KeyError, TypeError or IndexError if it does not parse."""
    raw: dict[str, Any] = json.loads(line)
    params = {str(k): str(v) for k, v in dict(raw["params"]).items()}
    token = raw.get("token")
    reply = raw.get("reply")
    return SpoolEntry(
        str(raw["kind"]),
        None if token is None else str(token),
        params,
        str(raw["at"]),
        end,
        None if reply is None else (str(reply[0]), int(reply[1])),
    )


class WebhookSpool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.done_path = path.with_name(path.name + ".done")
        self.max_bytes = max_bytes
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._size, self._applied = self._open()
        #: (end offset, when received) of the entries appended since start and not applied yet;
        #: entries left by the last run count as received before anything now (`oldest_pending`)
        self._arrivals: deque[tuple[int, datetime]] = deque()
        if self._size > self._applied:
            self._arrivals.append((self._size, datetime.min.replace(tzinfo=UTC)))
        self._full = False
        #: counters since start: appended, applied, refused (spool full), skipped (unreadable)
        self.counts = {"appended": 0, "applied": 0, "refused": 0, "skipped": 0}

    # --- files ---------------------------------------------------------------------------
    def _open(self) -> tuple[int, int]:
        """(size, applied offset); a line cut short by a crash is dropped."""
        if not self.path.exists():
            return 0, 0
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            log.warning("webhook spool: dropping a line cut short by a crash", bytes=len(data) - complete)
            with self.path.open("r+b") as file:
                file.truncate(complete)
                os.fsync(file.fileno())
        applied = 0
        with contextlib.suppress(OSError, ValueError):
            applied = int(self.done_path.read_text().strip() or 0)
        applied = min(applied, complete)
        if complete > applied:
            log.warning("webhook spool: entries left to apply from the last run", bytes=complete - applied)
        return complete, applied

    def _append(self, data: bytes) -> None:
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if created:  # the new directory entry must survive a power loss too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def _save_applied(self, offset: int) -> None:
        temporary = self.done_path.with_name(self.done_path.name + ".tmp")
        with temporary.open("w") as file:
            file.write(str(offset))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.done_path)

    def _read(self, offset: int) -> list[SpoolEntry]:
        entries: list[SpoolEntry] = []
        with self.path.open("rb") as file:
            file.seek(offset)
            position = offset
            for line in file:
                if not line.endswith(b"\n") or len(entries) >= _BATCH:
                    break
                position += len(line)
                try:
                    entries.append(parse_entry(line, position))
                except (ValueError, KeyError, TypeError, IndexError):
                    self.counts["skipped"] += 1
                    log.error("webhook spool: unreadable entry skipped", offset=position - len(line))
                    entries.append(SpoolEntry("", None, {}, "", position))
        return entries

    def _reset(self) -> None:
        with self.path.open("r+b") as file:
            file.truncate(0)
            os.fsync(file.fileno())
        self._save_applied(0)

    # --- use -------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        return self._size > self._applied

    @property
    def pending_bytes(self) -> int:
        return self._size - self._applied

    def oldest_pending(self) -> datetime | None:
        """When the oldest webhook still waiting here was received (None: nothing waits). The
        engine's deadline waiter lets these go first (notifier/engine/arrivals.py)."""
        while self._arrivals and self._arrivals[0][0] <= self._applied:
            self._arrivals.popleft()
        return self._arrivals[0][1] if self._arrivals else None

    async def append(self, kind: str, token: str | None, params: dict[str, str], at: datetime) -> bool:
        """Write the webhook durably; False (and nothing written) when the spool is full."""
        data = encode_entry(kind, token, params, at)
        async with self._lock:
            if self._size + len(data) > self.max_bytes:
                self.counts["refused"] += 1
                if not self._full:
                    self._full = True
                    log.error(
                        "webhook spool full: webhooks are refused (503) until it drains",
                        path=str(self.path),
                        max_bytes=self.max_bytes,
                    )
                return False
            await asyncio.to_thread(self._append, data)
            self._size += len(data)
            self._arrivals.append((self._size, at))
            self.counts["appended"] += 1
        self._wake.set()
        return True

    async def drain(self, apply: Callable[[SpoolEntry], Awaitable[None]]) -> int:
        """Apply the pending entries in order. A store failure stops the drain (raised, the entry
        stays pending); any other failure of one entry is logged and that entry skipped."""
        done = 0
        try:
            while self.pending:
                entries = await asyncio.to_thread(self._read, self._applied)
                if not entries:
                    break
                for entry in entries:
                    if entry.kind:
                        try:
                            await apply(entry)
                        except Exception as exc:
                            if is_store_failure(exc):
                                raise
                            self.counts["skipped"] += 1
                            log.error(
                                "spooled webhook not applied; skipped", kind=entry.kind, error=repr(exc)
                            )
                    self._applied = entry.end
                    done += 1
                    self.counts["applied"] += 1
                    if done % _SAVE_EVERY == 0:
                        await asyncio.to_thread(self._save_applied, self._applied)
        finally:
            if done:
                await asyncio.to_thread(self._save_applied, self._applied)
        async with self._lock:
            if not self.pending and self._size:
                await asyncio.to_thread(self._reset)
                self._size = self._applied = 0
                self._arrivals.clear()
                self._full = False
                log.info("webhook spool drained", applied=self.counts["applied"])
        return done

    async def run(self, apply: Callable[[SpoolEntry], Awaitable[None]]) -> None:
        """Apply entries as they come, retrying with a backoff while the store is down."""
        delay = 0.2
        while True:
            if not self.pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=5)
                continue
            try:
                await self.drain(apply)
                delay = 0.2
            except Exception as exc:
                log.info(
                    "spooled webhooks wait for the store",
                    pending_bytes=self.pending_bytes,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
