"""The webhook workers' spool on its own: group-committed appends, batches in arrival order across
writers, offsets that survive a new reader, segments removed only when applied and unlocked, a
line cut short by a killed writer dropped, a bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.api.spool_segments import SegmentReader, SegmentWriter
from notifier.api.webhook_spool import encode_entry

AT = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


def files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


def line(i: int, seconds: float = 0.0) -> bytes:
    params = {"MessageSid": f"SM{i:032x}", "MessageStatus": "delivered"}
    return encode_entry("status", "act1.att1", params, AT + timedelta(seconds=seconds or i))


async def test_concurrent_appends_share_fsyncs_and_are_read_in_order(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "w0", max_bytes=1_000_000)
    writer.open()
    assert all(await asyncio.gather(*(writer.append(line(i)) for i in range(200))))
    assert writer.counts["appended"] == 200 and writer.counts["syncs"] < 200
    reader = SegmentReader(tmp_path, batch=150)
    first = reader.read_batch()
    assert [item.entry.params["MessageSid"] for item in first] == [f"SM{i:032x}" for i in range(150)]
    reader.save({first[-1].segment.path.name: first[-1].entry.end})
    again = SegmentReader(tmp_path, batch=150)  # the engine restarted: it resumes after the save
    assert [item.entry.params["MessageSid"] for item in again.read_batch()] == [
        f"SM{i:032x}" for i in range(150, 200)
    ]


async def test_a_segment_is_removed_only_when_applied_and_its_writer_let_go(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "w0", max_bytes=1_000_000)
    writer.open()
    await writer.append(line(1))
    reader = SegmentReader(tmp_path)
    items = reader.read_batch()
    reader.save({items[-1].segment.path.name: items[-1].entry.end})
    assert reader.collect() == 0, "the writer still holds its segment"
    writer.close()
    assert reader.collect() == 1 and not files(tmp_path, "*.spool*")


async def test_a_line_cut_short_by_a_killed_writer_is_dropped_with_its_segment(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "w0", max_bytes=1_000_000)
    writer.open()
    await writer.append(line(1))
    assert writer.segment is not None
    with writer.segment.open("ab") as file:
        file.write(b'{"v":1,"kind":"status","par')  # killed mid-write: never answered 200
    writer.close()
    reader = SegmentReader(tmp_path)
    assert reader.collect() == 0, "an entry is left to apply"
    items = reader.read_batch()
    assert len(items) == 1
    reader.save({items[0].segment.path.name: items[0].entry.end})
    assert reader.read_batch() == []
    assert reader.collect() == 1


async def test_batches_merge_writers_by_arrival_and_keep_each_ones_order(tmp_path: Path) -> None:
    a, b = SegmentWriter(tmp_path, "w0", 1_000_000), SegmentWriter(tmp_path, "w1", 1_000_000)
    a.open()
    b.open()
    for i, seconds in ((1, 1), (2, 3), (3, 5)):
        await a.append(line(i, seconds))
    for i, seconds in ((4, 2), (5, 4)):
        await b.append(line(i, seconds))
    items = SegmentReader(tmp_path).read_batch()
    assert [int(item.entry.params["MessageSid"][2:], 16) for item in items] == [1, 4, 2, 5, 3]


async def test_a_writer_rolls_over_and_refuses_past_its_bound(tmp_path: Path) -> None:
    size = len(line(0))
    writer = SegmentWriter(tmp_path, "w0", max_bytes=size * 8, segment_bytes=size * 2)
    writer.open()
    results = [await writer.append(line(i)) for i in range(10)]
    assert results == [True] * 8 + [False] * 2 and writer.counts["refused"] == 2
    assert len(files(tmp_path, "w0-*.spool")) == 4
    reader = SegmentReader(tmp_path)
    items = reader.read_batch()
    assert len(items) == 8
    offsets: dict[str, int] = {}
    for item in items:
        offsets[item.segment.path.name] = item.entry.end
    reader.save(offsets)
    assert reader.collect() == 3  # the current segment stays with its writer
    assert await writer.append(line(99)), "what the engine applied and removed no longer counts"
