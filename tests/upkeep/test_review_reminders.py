"""Issue 5 acceptance: review reminders go only to overdue contacts; an SMS reply confirms.

A small plan written by the test (review policy: every 90 days), the daily check at 09:00 in
Brussels on a 600x clock, the sandbox for SMS and email, replies through the signed webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier.clock import ScaledClock
from notifier.domain.plan import Plan
from notifier.domain.plandiff import ChangeKind
from notifier.runtime import Runtime
from notifier.store import outbox_repo
from notifier.store.db import upgrade_async
from notifier.store.engine_tables import outbox
from notifier.store.upkeep_tables import review_requests
from notifier.upkeep.reviews import Answer, overdue_people, parse_answer, with_verified
from tests.engine.conftest import free_port, system_settings

TODAY = date(2026, 6, 1)
MOBILES = {
    "p-fresh": "+32470990201",
    "p-stale": "+32470990202",
    "p-never": "+32470990203",
    "p-edge": "+32470990205",
    "p-owner": "+32470990204",
}


def write_plan(directory: Path) -> tuple[Path, Path]:
    def person(pid: str, verified: str | None, sms: bool = True) -> str:
        contacts = [f"{{kind: email, address: {pid.removeprefix('p-')}@example.org}}"]
        if sms:
            contacts.insert(0, f"{{kind: sms, address: '{MOBILES[pid]}', label: mobile}}")
        text = f"  - id: {pid}\n    name: {pid.title()}\n    contacts: [{', '.join(contacts)}]\n"
        return text + (f"    last_verified: {verified}\n" if verified else "")

    plan = directory / "plan.yaml"
    plan.write_text(
        "organisation:\n"
        "  name: TAXUD review trial\n"
        "  timezone: Europe/Brussels\n"
        "  review_policy: {contact_review_days: 90}\n"
        "  plan_owner_role: plan-owner\n"
        "people:\n"
        + person("p-fresh", "2026-05-20")  # 12 days: fine
        + person("p-edge", "2026-03-03")  # exactly 90 days: not overdue yet
        + person("p-stale", "2025-11-01")  # 212 days: overdue
        + person("p-never", None)  # never verified: overdue
        + person("p-mailonly", "2025-01-15", sms=False)  # overdue, email only
        + person("p-owner", "2026-05-30")
        + "roles:\n  - {id: plan-owner, name: ISCP coordinator (plan owner), primary: p-owner}\n"
    )
    tree = directory / "tree.yaml"
    tree.write_text(
        "policies:\n  - {id: p, methods: [{kind: sms}]}\n"
        "calltrees:\n  - {id: owners, name: Owners, policy: p, nodes: [{role: plan-owner}]}\n"
    )
    return plan, tree


@pytest.fixture
async def review_system(tmp_path: Path) -> AsyncIterator[Runtime]:
    plan, tree = write_plan(tmp_path)
    port = free_port()
    settings = system_settings(
        tmp_path,
        port,
        plan_paths=[plan],
        calltree_paths=[tree],
        schedule={"reminders": {"enabled": True, "cron": "0 9 * * *"}},
    )
    await upgrade_async(settings.database_url)
    # 08:50 CEST on 1 June 2026: the daily check runs ten minutes (one real second) later
    runtime = Runtime(settings, ScaledClock(600, origin=datetime(2026, 6, 1, 6, 50, tzinfo=UTC)))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop(timeout=5)


async def requests_sent(runtime: Runtime, count: int, timeout: float = 15.0) -> list[object]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        async with runtime.db.connect() as conn:  # type: ignore[union-attr]
            rows = (await conn.execute(select(review_requests).order_by(review_requests.c.id))).all()
        if len(rows) >= count:
            return list(rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} review requests")


async def test_only_overdue_contacts_are_asked_and_an_sms_reply_confirms(review_system: Runtime) -> None:
    runtime = review_system
    sandbox = runtime.sandbox
    rows = await requests_sent(runtime, 3)
    await runtime.calendar.scheduler.wait_idle()
    rows = await requests_sent(runtime, 3)
    assert sorted((r.person_id, r.channel) for r in rows) == [  # type: ignore[attr-defined]
        ("p-mailonly", "email"),
        ("p-never", "sms"),
        ("p-stale", "sms"),
    ]
    sms_to = {m.to for m in sandbox.messages}
    assert sms_to == {MOBILES["p-stale"], MOBILES["p-never"]}
    request = await sandbox.device(MOBILES["p-stale"]).expect_sms(r"Reply 1", timeout=5)
    assert "CHANGED" in request.body
    assert not any(word in request.body.upper().split() for word in ("STOP", "END", "CANCEL", "QUIT"))
    mails = [e for e in sandbox.emails if "mailonly@example.org" in e.envelope_to]
    assert len(mails) == 1 and "confirm your contact details" in mails[0].subject
    assert not [e for e in sandbox.emails if e.envelope_to != ["mailonly@example.org"]]

    # a second run the same week asks nobody again
    assert (await runtime.calendar.reviews.send_reminders()).startswith("0 review request(s) sent")

    store = runtime.plan_store
    assert store is not None
    before = await store.versions()

    # p-stale confirms: a new plan version with last_verified = today and a record-of-changes entry
    inbound = await sandbox.device(MOBILES["p-stale"]).reply("1")
    assert "confirmed as of 2026-06-01" in inbound.callback.body
    versions = await store.versions()
    assert len(versions) == len(before) + 1
    newest = versions[-1]
    assert newest.author == "contact review reply (p-stale)"
    assert "p-stale confirmed their contact details" in newest.comment
    changes = await store.changes(newest.version)
    assert [(c.kind, c.entity_id, c.field) for c in changes] == [
        (ChangeKind.CHANGED, "p-stale", "last_verified")
    ]
    assert changes[0].new is not None and "2026-06-01" in str(changes[0].new)
    plan = await store.get(newest.version)
    assert plan.person("p-stale").last_verified == TODAY  # type: ignore[union-attr]
    assert plan.person("p-never").last_verified is None  # type: ignore[union-attr]
    # new activations use the new version
    assert runtime.engine.config.plan_version == newest.version  # type: ignore[union-attr]

    # p-never says their details changed: the plan owner is told, the plan is not changed
    answer = await sandbox.device(MOBILES["p-never"]).reply("CHANGED")
    assert "plan owner has been told" in answer.callback.body
    notice = await sandbox.device(MOBILES["p-owner"]).expect_sms(r"CHANGED", timeout=5)
    assert "p-never" in notice.body
    assert len(await store.versions()) == len(versions)
    async with runtime.db.connect() as conn:  # type: ignore[union-attr]
        statuses = dict(
            (await conn.execute(select(review_requests.c.person_id, review_requests.c.status))).all()
        )
    assert statuses == {"p-stale": "confirmed", "p-never": "changed", "p-mailonly": "open"}


async def test_reminders_go_through_the_outbox_and_skip_a_number_that_texted_stop(
    review_system: Runtime,
) -> None:
    runtime = review_system
    assert runtime.db is not None
    async with runtime.db.begin() as conn:  # before the 09:00 check (one real second away)
        await outbox_repo.set_opt_out(conn, MOBILES["p-never"], True, runtime.clock.now())
    await requests_sent(runtime, 3)

    async def upkeep_rows() -> list[object]:
        async with runtime.db.connect() as conn:  # type: ignore[union-attr]
            query = select(outbox).where(outbox.c.activation_id.is_(None)).order_by(outbox.c.id)
            return list((await conn.execute(query)).all())

    loop = asyncio.get_running_loop()
    end = loop.time() + 15
    while loop.time() < end:
        rows = await upkeep_rows()
        if len(rows) == 3 and all(r.status != "pending" and r.status != "sending" for r in rows):  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.05)
    by_address = {r.address: r for r in rows}  # type: ignore[attr-defined]
    stale, never = by_address[MOBILES["p-stale"]], by_address[MOBILES["p-never"]]
    assert (stale.message_kind, stale.tracked, stale.status, stale.provider) == (
        "upkeep",
        0,
        "sent",
        "twilio",
    )
    assert (never.status, never.error_code) == ("failed", "opted-out")  # never handed to a provider
    assert by_address["mailonly@example.org"].provider == "smtp"
    assert MOBILES["p-never"] not in {m.to for m in runtime.sandbox.messages}


def test_overdue_rule_matches_the_review_policy(tmp_path: Path) -> None:
    from notifier.plan.loader import load

    plan_file, tree_file = write_plan(tmp_path)
    loaded = load([plan_file, tree_file])
    assert loaded.plan is not None
    plan: Plan = loaded.plan
    assert [p.id for p in overdue_people(plan, TODAY)] == ["p-stale", "p-never", "p-mailonly"]
    # the day after, the 90-day-old entry is overdue too
    assert "p-edge" in [p.id for p in overdue_people(plan, date(2026, 6, 2))]
    updated = with_verified(plan, "p-stale", TODAY)
    assert [p.id for p in overdue_people(updated, TODAY)] == ["p-never", "p-mailonly"]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("1", Answer.CONFIRMED),
        ("Yes", Answer.CONFIRMED),
        (" ok thanks", Answer.CONFIRMED),
        ("CHANGED", Answer.CHANGED),
        ("changed: new mobile", Answer.CHANGED),
        ("what?", None),
        ("", None),
    ],
)
def test_reply_words(body: str, answer: Answer | None) -> None:
    assert parse_answer(body) is answer
