"""Twilio's list endpoints in the sandbox, read through the real twilio SDK: filters, newest first,
paging by `next_page_uri`/`PageToken`, and the envelope of the 2010-04-01 API's list responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from notifier.sandbox import Sandbox, preset

from .conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER, Receiver

ANNA = "+32470000001"
MARC = "+32470000002"
BODY = "ITSCM activation: SEED unavailable (RTO 4h). Reply 1 to confirm, 2 if you cannot respond (ref K7Q)"
LIST_KEYS = {
    "end",
    "first_page_uri",
    "next_page_uri",
    "page",
    "page_size",
    "previous_page_uri",
    "start",
    "uri",
}


async def test_messages_list_filters_by_to_newest_first_across_pages(
    sandbox: Sandbox, client: Client
) -> None:
    sids = [
        (await client.messages.create_async(to=ANNA, from_=SENDER, body=f"{BODY} #{i}")).sid for i in range(7)
    ]
    await client.messages.create_async(to=MARC, from_=SENDER, body=BODY)
    listed = await client.messages.list_async(to=ANNA, page_size=3)
    assert [m.sid for m in listed] == list(reversed(sids))
    assert all(m.to == ANNA and m.direction == "outbound-api" for m in listed)

    first = await client.messages.page_async(to=ANNA, page_size=3)
    assert [m.sid for m in first] == list(reversed(sids))[:3]
    assert first.next_page_url is not None and "PageToken=PA" in first.next_page_url
    # a message created between two page reads does not shift the next page (PageToken)
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    second = await first.next_page_async()
    assert second is not None and [m.sid for m in second] == list(reversed(sids))[3:6]
    third = await second.next_page_async()
    assert third is not None and [m.sid for m in third] == [sids[0]]
    assert third.next_page_url is None


async def test_list_envelope_is_twilios(sandbox: Sandbox) -> None:
    await sandbox_create(sandbox, 3)
    url = f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)) as session:
        async with session.get(url, params={"To": ANNA, "PageSize": "2"}) as response:
            assert response.status == 200
            body = json.loads(await response.text())
        assert set(body) == LIST_KEYS | {"messages"}
        assert body["page"] == 0 and body["page_size"] == 2 and body["start"] == 0 and body["end"] == 1
        assert body["previous_page_uri"] is None
        assert body["first_page_uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?")
        assert "Page=1" in body["next_page_uri"] and "To=%2B32470000001" in body["next_page_uri"]
        async with session.get(url, params={"PageSize": "0"}) as response:
            assert response.status == 400 and (await response.json())["code"] == 20001
        async with session.get(url, params={"DateSent>": "yesterday"}) as response:
            assert response.status == 400
    wrong = aiohttp.BasicAuth(ACCOUNT_SID, "wrong")
    async with aiohttp.ClientSession(auth=wrong) as session, session.get(url) as response:
        assert response.status == 401 and (await response.json())["code"] == 20003


async def sandbox_create(sandbox: Sandbox, count: int) -> None:
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)) as session:
        for _ in range(count):
            url = f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
            async with session.post(url, data={"To": ANNA, "From": SENDER, "Body": BODY}) as response:
                assert response.status == 201


async def test_date_sent_filter_skips_messages_not_sent_yet(sandbox: Sandbox, client: Client) -> None:
    sandbox.state.sender_segments_per_second = 0.001  # the second one waits in the sender's queue
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    await client.messages.create_async(to=ANNA, from_=SENDER, body=BODY)
    await sandbox.state.wait_for(lambda: sandbox.messages[0].status != "queued", timeout=5)
    today = datetime.now(UTC).date()
    sent_today = await client.messages.list_async(to=ANNA, date_sent=today)
    assert [m.sid for m in sent_today] == [sandbox.messages[0].sid]
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert len(await client.messages.list_async(to=ANNA, date_sent_after=hour_ago)) == 1
    assert await client.messages.list_async(to=ANNA, date_sent_before=hour_ago) == []
    assert len(await client.messages.list_async(to=ANNA)) == 2


async def test_calls_list_filters_by_to_and_status(
    sandbox: Sandbox, client: Client, receiver: Receiver
) -> None:
    sandbox.personas.add(preset("never_answers", MARC, ring_seconds=0.1))
    for _ in range(2):
        await client.calls.create_async(to=MARC, from_=SENDER, url=f"{receiver.url}/voice/start")
    await client.calls.create_async(to=ANNA, from_=SENDER, url=f"{receiver.url}/voice/start")
    await sandbox.wait_idle()
    to_marc = await client.calls.list_async(to=MARC, page_size=1)
    assert [c.sid for c in to_marc] == [c.sid for c in reversed(sandbox.calls) if c.to == MARC]
    assert all(c.status == "no-answer" for c in to_marc)
    assert await client.calls.list_async(to=MARC, status="completed") == []
    assert len(await client.calls.list_async(from_=SENDER)) == 3
    with pytest.raises(TwilioException, match="HTTP 400"):
        await client.calls.list_async(start_time_after="not a date")  # type: ignore[arg-type]
