"""`render_report` over a real database: rows in the engine's tables in, every format out.

Three quarterly drills and one incident of the same tree are stored; the third drill's report must
carry a trend table of exactly the three drills (never the incident).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import matplotlib.image
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

import notifier.store.engine_tables  # noqa: F401  (registers the engine's tables on the metadata)
from notifier.domain.calltree import ActivationKind
from notifier.reports.build import render_report
from notifier.reports.figures import compute
from notifier.store.db import make_engine
from notifier.store.engine_tables import responses
from notifier.store.tables import metadata
from tests.reports.parse import markdown_tables
from tests.reports.rows import store
from tests.reports.scenario import T0, play_quick_drill, play_seed_outage, seed_snapshot

QUARTER = timedelta(days=91)
DRILL_PACES = {"drill-q1": 1.0, "drill-q2": 1.5, "drill-q3": 0.5}


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for index, (activation_id, pace) in enumerate(DRILL_PACES.items()):
            drill = play_quick_drill(seed_snapshot(ActivationKind.DRILL), T0 + index * QUARTER, pace)
            await store(conn, drill, activation_id, f"D{index + 1}Q")
        incident = play_seed_outage(seed_snapshot(), start=T0 + QUARTER + timedelta(days=3))
        await store(conn, incident, "incident-1", "K7Q")
        await conn.execute(
            insert(responses).values(
                activation_id="incident-1",
                person_id="p-cpc",
                channel="sms",
                address="+32470100401",
                raw="1",
                action="confirm",
                received_at=T0 + QUARTER + timedelta(days=3, minutes=1),
            )
        )
    yield engine
    await engine.dispose()


async def report(engine: AsyncEngine, activation_id: str, fmt: str) -> bytes | None:
    async with engine.connect() as conn:
        return await render_report(conn, activation_id, fmt)


async def test_incident_report_from_the_store_matches_the_script(engine: AsyncEngine) -> None:
    body = await report(engine, "incident-1", "json")
    assert body is not None
    doc = json.loads(body)
    assert (doc["counts"]["notified"], doc["counts"]["confirmed"], doc["counts"]["unreachable"]) == (
        15,
        12,
        2,
    )
    assert (doc["ack_from_start"]["median_s"], doc["ack_from_start"]["worst_s"]) == (390, 1020)
    assert (doc["completion_s"], doc["time_limit_s"], doc["verdict"]) == (1080, 1800, "PASS WITH EXCEPTIONS")
    assert [m["name"] for m in doc["unreachable"]] == ["Dirk Database", "Wim Wan"]
    assert doc["trend"] == []  # an incident never gets drill statistics
    replies = [t for t in doc["timeline"] if t["step"] == "response"]
    assert replies == [
        {
            "at": replies[0]["at"],
            "offset_s": 60,
            "step": "response",
            "who": "Anna Coordinator",
            "outcome": "sms reply '1' read as confirm",
            "problem": "",
        }
    ]


async def test_third_drill_has_a_trend_of_the_three_drills(engine: AsyncEngine) -> None:
    body = await report(engine, "drill-q3", "json")
    assert body is not None
    trend = json.loads(body)["trend"]
    assert [row["activation_id"] for row in trend] == list(DRILL_PACES)
    for index, (row, pace) in enumerate(zip(trend, DRILL_PACES.values(), strict=True)):
        drill = play_quick_drill(seed_snapshot(ActivationKind.DRILL), T0 + index * QUARTER, pace)
        own = compute(drill.record(row["activation_id"]), [], [])
        assert (
            row["notified"],
            row["confirmed"],
            row["median_ack_s"],
            row["worst_ack_s"],
            row["completion_s"],
        ) == (
            own.counts.notified,
            own.counts.confirmed,
            own.ack_from_start.median_s,
            own.ack_from_start.worst_s,
            own.completion_s,
        )
    # 14 people confirm one after another, pace minutes apart: the last at 14 * pace
    assert [row["completion_s"] for row in trend] == [14 * 60, 21 * 60, 7 * 60]
    assert [row["verdict"] for row in trend] == ["PASS", "PASS", "PASS"]
    markdown = (await report(engine, "drill-q3", "md") or b"").decode()
    table = markdown_tables(markdown)["Trend over drills of this tree"]
    assert [r[0] for r in table[1:]] == list(DRILL_PACES)
    assert [r[8] for r in table[1:]] == ["14m 00s", "21m 00s", "7m 00s"]
    first = json.loads(await report(engine, "drill-q1", "json") or b"{}")
    assert [row["activation_id"] for row in first["trend"]] == ["drill-q1"]


async def test_every_format_renders(engine: AsyncEngine) -> None:
    png = await report(engine, "incident-1", "png")
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert matplotlib.image.imread(io.BytesIO(png), format="png").ndim == 3
    html = (await report(engine, "incident-1", "html") or b"").decode()
    assert "data:image/png;base64," in html and "PASS" in html
    rows = list(csv.reader(io.StringIO((await report(engine, "incident-1", "csv") or b"").decode())))
    assert ["summary", "", "confirmed", "12"] in rows
    log = list(csv.reader(io.StringIO((await report(engine, "incident-1", "log") or b"").decode())))
    assert log[0] == ["step", "who", "started", "completed", "problems"]
    assert "Activity log" in (await report(engine, "incident-1", "log-md") or b"").decode()
    assert "## 4. Corrective actions" in (await report(engine, "incident-1", "aar") or b"").decode()


async def test_unknown_activation_or_format_is_none(engine: AsyncEngine) -> None:
    assert await report(engine, "no-such-activation", "md") is None
    assert await report(engine, "incident-1", "docx") is None


async def test_aar_links_corrective_actions_to_the_plan_version_that_fixed_them(engine: AsyncEngine) -> None:
    """Dirk Database's mobile number failed in the incident; the plan version that changed his entry
    afterwards is named in the AAR, the owner is the plan's coordinator role (no plan-owner role)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from notifier.domain.plan import ContactMethod
    from notifier.store.plans import PlanStore
    from tests.reports.scenario import seed_plan

    plans = PlanStore(async_sessionmaker(engine))
    plan = seed_plan()
    await plans.import_plan(plan, "test", "before the fix")
    dirk = plan.person("p-db-lead")
    assert dirk is not None
    fixed = dirk.model_copy(
        update={"contacts": (ContactMethod(kind="sms", address="+32470990777", label="mobile"),)}
    )
    people = tuple(fixed if p.id == "p-db-lead" else p for p in plan.people)
    await plans.import_plan(plan.model_copy(update={"people": people}), "test", "Dirk's new mobile")

    body = await report(engine, "incident-1", "aar")
    assert body is not None
    text = body.decode()
    row = next(line for line in text.splitlines() if "mobile number of Dirk Database" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["Contingency Planning Coordinator", "2026-07-12", "version 2"]
    others = [
        line for line in text.splitlines() if line.startswith("| ") and "Wim Wan" in line and "open" in line
    ]
    assert others  # not fixed yet
    assert "CEST" in text.splitlines()[2]  # started on the organisation's (Brussels) clock
