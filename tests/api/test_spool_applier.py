"""The engine's side of the webhook workers against the in-memory engine: a batch's answers all
reach the worker that waits for them, even more than a unix socket queues at once."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

from notifier.api.spool_applier import SpoolApplier
from notifier.api.spool_segments import SegmentWriter
from notifier.api.webhook_spool import encode_entry
from tests.api.memory_engine import MemoryEngine

AT = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


async def test_every_answer_of_a_burst_reaches_its_waiting_worker(
    tmp_path: Path, engine: MemoryEngine
) -> None:
    directory = tmp_path / "webhooks-8080"
    waiting = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # the worker's answer socket
    waiting.setblocking(False)
    path = str(tmp_path / "w0-1.sock")
    waiting.bind(path)
    writer = SegmentWriter(directory, "w0", max_bytes=1_000_000)
    writer.open()
    replies = 200  # far more than the socket queues (net.unix.max_dgram_qlen, 10 by default)
    for i in range(replies):
        params = {"MessageSid": f"SM{i:032d}", "From": f"+3247{i:07d}", "To": "+15005550006", "Body": "1"}
        await writer.append(encode_entry("sms", None, params, AT, (path, i)))
    applier = SpoolApplier(directory, engine, "https://notifier.example.org")
    applier.open()
    try:
        assert await applier.apply_batch() == replies
        answers: dict[int, str] = {}
        for _ in range(500):
            await asyncio.sleep(0.01)  # the applier sends what the socket takes, then tries again
            while True:
                try:
                    data = waiting.recv(65_536)
                except BlockingIOError:
                    break
                answers.update((int(a["id"]), str(a["twiml"])) for a in json.loads(data))
            if len(answers) == replies:
                break
        assert sorted(answers) == list(range(replies))
        assert all("Confirmed &lt;ref K1Q&gt; &amp; thanks" in twiml for twiml in answers.values())
        assert len(engine.called("inbound_sms")) == replies
    finally:
        applier.close()
        writer.close()
        waiting.close()


async def test_a_state_dir_too_long_for_unix_sockets_degrades_to_polling(
    tmp_path: Path, engine: MemoryEngine
) -> None:
    directory = tmp_path / ("d" * 90) / "webhooks-8080"
    applier = SpoolApplier(directory, engine, "https://notifier.example.org")
    assert not applier.sockets_fit
    applier.open()  # no socket to bind: still applies what workers spool, by looking every second
    try:
        writer = SegmentWriter(directory, "w0", max_bytes=1_000_000)
        writer.open()
        params = {"MessageSid": "SM1", "From": "+32470000001", "To": "+15005550006", "Body": "1"}
        await writer.append(encode_entry("sms", None, params, AT, ("/nonexistent.sock", 1)))
        assert await applier.apply_batch() == 1 and len(engine.called("inbound_sms")) == 1
        writer.close()
    finally:
        applier.close()
