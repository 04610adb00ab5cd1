"""The webhook spool on its own: durable appends in order, a bound, a torn last line, a drain that
stops at a store failure and resumes where it stopped, also in a new process (a new spool object
on the same file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from notifier.api.webhook_spool import SpoolEntry, WebhookSpool

AT = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


def reply(i: int) -> dict[str, str]:
    return {"MessageSid": f"SM{i:032x}", "From": "+32470990103", "To": "+15005550006", "Body": "1"}


async def test_entries_are_applied_in_order_and_the_spool_empties(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path / "webhooks-8080.spool", max_bytes=1_000_000)
    for i in range(5):
        assert await spool.append("sms", None, reply(i), AT)
    assert spool.pending
    lines = (tmp_path / "webhooks-8080.spool").read_text().splitlines()
    assert [json.loads(line)["params"]["MessageSid"] for line in lines] == [
        reply(i)["MessageSid"] for i in range(5)
    ]
    seen: list[str] = []

    async def apply(entry: SpoolEntry) -> None:
        seen.append(entry.params["MessageSid"])

    assert await spool.drain(apply) == 5
    assert seen == [reply(i)["MessageSid"] for i in range(5)]
    assert not spool.pending and (tmp_path / "webhooks-8080.spool").stat().st_size == 0


async def test_a_store_failure_stops_the_drain_and_a_new_process_resumes_there(tmp_path: Path) -> None:
    path = tmp_path / "webhooks-8080.spool"
    spool = WebhookSpool(path, max_bytes=1_000_000)
    for i in range(4):
        await spool.append("status", "a1b2.a3", {"MessageSid": f"SM{i}", "MessageStatus": "delivered"}, AT)
    applied: list[str] = []

    async def down_at_third(entry: SpoolEntry) -> None:
        if len(applied) == 2:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))
        applied.append(entry.params["MessageSid"])

    with pytest.raises(OperationalError):
        await spool.drain(down_at_third)
    assert applied == ["SM0", "SM1"] and spool.pending
    again = WebhookSpool(path, max_bytes=1_000_000)  # the daemon restarted
    assert again.pending

    async def apply(entry: SpoolEntry) -> None:
        applied.append(entry.params["MessageSid"])

    assert await again.drain(apply) == 2
    assert applied == ["SM0", "SM1", "SM2", "SM3"]


async def test_a_bad_entry_is_skipped_not_blocking(tmp_path: Path) -> None:
    spool = WebhookSpool(tmp_path / "w.spool", max_bytes=1_000_000)
    await spool.append("sms", None, reply(1), AT)
    await spool.append("sms", None, reply(2), AT)
    applied: list[str] = []

    async def apply(entry: SpoolEntry) -> None:
        if entry.params["MessageSid"] == reply(1)["MessageSid"]:
            raise ValueError("a bug")
        applied.append(entry.params["MessageSid"])

    assert await spool.drain(apply) == 2
    assert applied == [reply(2)["MessageSid"]] and spool.counts["skipped"] == 1


async def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "w.spool"
    spool = WebhookSpool(path, max_bytes=1_000_000)
    await spool.append("sms", None, reply(1), AT)
    with path.open("ab") as file:
        file.write(b'{"v":1,"kind":"sms","par')  # the crash came mid-write: never answered 200
    again = WebhookSpool(path, max_bytes=1_000_000)
    applied: list[str] = []

    async def apply(entry: SpoolEntry) -> None:
        applied.append(entry.params["MessageSid"])

    assert await again.drain(apply) == 1 and applied == [reply(1)["MessageSid"]]


async def test_a_full_spool_refuses_and_says_so_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = WebhookSpool(tmp_path / "w.spool", max_bytes=600)
    accepted = [await spool.append("sms", None, reply(i), AT) for i in range(6)]
    assert accepted[0] and not accepted[-1]
    assert spool.counts["refused"] == accepted.count(False)
    assert capsys.readouterr().out.count("webhook spool full") == 1
