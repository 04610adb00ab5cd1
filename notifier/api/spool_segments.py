"""The webhook workers' spool: one writer per segment file, one reader (the engine) for all (issue 19).

Directory `<state dir>/webhooks-<http port>/`. Each webhook worker appends to its own current segment
`<worker>-<start time ns>.spool` in the line format of `webhook_spool.py` (JSON Lines), holding an
exclusive `flock` on it while it may still write there. Appends are group-committed: the webhooks
that arrive while one `fsync` runs are written and synced together by the next, and each is
answered 200 only after the sync that covered it. A worker rolls to a new segment past
`SEGMENT_BYTES`, and refuses (503) past `max_bytes` of its own segments still on disk.

The engine reads every segment from the offset saved beside it (`<segment>.done`, written
atomically after a batch was applied), merges them by arrival time (each segment's own order is
kept), and deletes a segment once it is applied to its end and nobody holds its lock: its worker
rolled over, stopped, or died (the kernel drops the lock of a killed process). A line cut short by
a worker killed mid-write was never answered 200 and is dropped with its segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import heapq
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from notifier.api.webhook_spool import SpoolEntry, parse_entry

log = structlog.get_logger("notifier.spool")

SUFFIX = ".spool"
SEGMENT_BYTES = 4_000_000


def fsync_directory(directory: Path) -> None:
    """A new or removed directory entry survives a power loss only once its directory is synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentWriter:
    """A webhook worker's side: durable appends, many webhooks per fsync."""

    def __init__(
        self,
        directory: Path,
        name: str,
        max_bytes: int,
        segment_bytes: int = SEGMENT_BYTES,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.name = name
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max(max_bytes // 4, 1))
        self.on_flush = on_flush
        self.segment: Path | None = None
        self._fd = -1
        self._size = 0  # of the current segment
        self._backlog = 0  # bytes of this worker's segments on disk (not yet deleted by the engine)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._queued = 0
        self._flusher: asyncio.Task[None] | None = None
        self._full = False
        self.counts = {"appended": 0, "refused": 0, "syncs": 0}

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._roll()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock: the engine deletes the segment once applied
            self._fd = -1

    def _roll(self) -> None:
        path = self.directory / f"{self.name}-{time.time_ns():020d}{SUFFIX}"
        # locked under another name first: the engine must never see it unlocked (and empty)
        fresh = path.with_name(path.name + ".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(fresh, path)
        fsync_directory(self.directory)
        self.close()
        self._fd, self.segment, self._size = fd, path, 0
        self._backlog = self._on_disk()

    def _on_disk(self) -> int:
        """Bytes of this worker's segments the engine has not removed yet."""
        total = 0
        for segment in self.directory.glob(f"{self.name}-*{SUFFIX}"):
            with contextlib.suppress(OSError):
                total += segment.stat().st_size
        return total

    def _write(self, data: bytes) -> None:
        if self._size and self._size + len(data) > self.segment_bytes:
            self._roll()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self._size += len(data)
        self._backlog += len(data)

    async def append(self, line: bytes) -> bool:
        """Write `line` (one encoded entry) durably; False, and nothing written, when full."""
        if self._backlog + self._queued + len(line) > self.max_bytes:
            self._backlog = self._on_disk()  # the engine may have applied and removed some since
        if self._backlog + self._queued + len(line) > self.max_bytes:
            self.counts["refused"] += 1
            if not self._full:
                self._full = True
                log.error(
                    "webhook spool full: webhooks are refused (503) until the engine applies them",
                    directory=str(self.directory),
                    worker=self.name,
                    max_bytes=self.max_bytes,
                )
            return False
        self._full = False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, future))
        self._queued += len(line)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="spool-flush")
        await future
        return True

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            data = b"".join(line for line, _ in batch)
            try:
                await asyncio.to_thread(self._write, data)
            except OSError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._queued -= len(data)
            self.counts["appended"] += len(batch)
            self.counts["syncs"] += 1
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            if self.on_flush is not None:
                self.on_flush()


@dataclass
class Segment:
    path: Path
    applied: int  # byte offset up to which its entries are applied

    @property
    def done_path(self) -> Path:
        return self.path.with_name(self.path.name + ".done")


@dataclass(frozen=True)
class Item:
    """One entry read from a segment (an unreadable line has `entry.kind == ""`)."""

    segment: Segment
    entry: SpoolEntry


class SegmentReader:
    """The engine's side: batches across segments in arrival order, offsets saved after applying."""

    def __init__(self, directory: Path, batch: int = 1_000) -> None:
        self.directory = directory
        self.batch = batch
        self.segments: dict[str, Segment] = {}
        self.skipped = 0

    def pending_bytes(self) -> int:
        total = 0
        for segment in self.segments.values():
            with contextlib.suppress(OSError):
                total += max(segment.path.stat().st_size - segment.applied, 0)
        return total

    def _scan(self) -> list[Segment]:
        found: list[Segment] = []
        with contextlib.suppress(FileNotFoundError):
            for path in sorted(self.directory.glob(f"*{SUFFIX}")):
                segment = self.segments.get(path.name)
                if segment is None:
                    applied = 0
                    with contextlib.suppress(OSError, ValueError):
                        applied = int(path.with_name(path.name + ".done").read_text().strip() or 0)
                    segment = self.segments[path.name] = Segment(path, applied)
                found.append(segment)
        for name in set(self.segments) - {s.path.name for s in found}:
            del self.segments[name]
        return found

    def _lines(self, segment: Segment) -> list[Item]:
        items: list[Item] = []
        try:
            file = segment.path.open("rb")
        except FileNotFoundError:
            return items
        with file:
            file.seek(segment.applied)
            position = segment.applied
            for line in file:
                if not line.endswith(b"\n") or len(items) >= self.batch:
                    break  # a line being written (or cut short by a crash) is not read
                position += len(line)
                try:
                    entry = parse_entry(line, position)
                except (ValueError, KeyError, TypeError, IndexError):
                    self.skipped += 1
                    log.error(
                        "webhook spool: unreadable entry skipped",
                        segment=segment.path.name,
                        offset=position - len(line),
                    )
                    entry = SpoolEntry("", None, {}, "", position)
                items.append(Item(segment, entry))
        return items

    def read_batch(self) -> list[Item]:
        """Up to `batch` entries not applied yet, oldest first (blocking I/O: run it in a thread)."""
        per_segment = [self._lines(segment) for segment in self._scan()]
        merged = heapq.merge(*per_segment, key=lambda item: item.entry.at)
        return [item for _, item in zip(range(self.batch), merged, strict=False)]

    def save(self, offsets: dict[str, int]) -> None:
        """Record, per segment name, the offset up to which entries are applied. Atomic (a new file
        renamed over the old) but not synced: an offset lost with a power failure only makes the
        next engine apply entries again, which their receipts turn into no-ops; a sync per batch
        would sit in every reply's wait."""
        for name, offset in offsets.items():
            segment = self.segments.get(name)
            if segment is None or offset <= segment.applied:
                continue
            temporary = segment.done_path.with_name(segment.done_path.name + ".tmp")
            temporary.write_text(str(offset))
            os.replace(temporary, segment.done_path)
            segment.applied = offset

    def collect(self) -> int:
        """Delete the segments applied to their last complete line that no writer holds; how many."""
        removed = 0
        for segment in list(self.segments.values()):
            try:
                fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its worker may still append
                data_end = os.fstat(fd).st_size
                if data_end > segment.applied:
                    os.lseek(fd, segment.applied, os.SEEK_SET)
                    if b"\n" in os.read(fd, data_end - segment.applied):
                        continue  # complete entries left to apply
                    log.warning(
                        "webhook spool: dropping a line cut short by a crash",
                        segment=segment.path.name,
                        bytes=data_end - segment.applied,
                    )
                segment.path.unlink()
                with contextlib.suppress(FileNotFoundError):
                    segment.done_path.unlink()
                del self.segments[segment.path.name]
                removed += 1
            finally:
                os.close(fd)
        if removed:
            fsync_directory(self.directory)
        return removed
