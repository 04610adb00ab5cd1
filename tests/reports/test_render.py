"""Markdown, HTML, CSV and JSON agree on every figure; the PNG is a real image of the curve."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib.image
import pytest

from notifier.domain.masking import mask_text
from notifier.reports.activity_log import (
    activity_log_csv,
    activity_log_markdown,
    activity_rows,
    after_action_report,
)
from notifier.reports.figures import compute
from notifier.reports.model import ReportData
from notifier.reports.render import plot_curve, to_csv, to_html, to_json, to_markdown
from tests.reports.parse import csv_cells, html_tables, markdown_tables, parse_seconds
from tests.reports.scenario import play_seed_outage, seed_snapshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# summary figures as (label shown in Markdown/HTML, path into the JSON document)
SUMMARY = {
    "notified": ("People notified", ("counts", "notified")),
    "confirmed": ("Confirmed", ("counts", "confirmed")),
    "declined": ("Declined", ("counts", "declined")),
    "unreachable": ("Unreachable", ("counts", "unreachable")),
    "pending": ("Pending", ("counts", "pending")),
    "reached": ("Received the message", ("counts", "reached")),
    "nodes_acknowledged": ("Nodes acknowledged", ("counts", "nodes_acknowledged")),
    "reach_rate": ("Reach rate (confirmed / notified)", ("reach_rate",)),
    "median_ack_from_start_s": ("Median time to acknowledge (from start)", ("ack_from_start", "median_s")),
    "worst_ack_from_start_s": ("Worst time to acknowledge (from start)", ("ack_from_start", "worst_s")),
    "median_ack_from_notified_s": (
        "Median time to acknowledge (from first notification)",
        ("ack_from_notified", "median_s"),
    ),
    "worst_ack_from_notified_s": (
        "Worst time to acknowledge (from first notification)",
        ("ack_from_notified", "worst_s"),
    ),
    "completion_s": ("Tree completion time", ("completion_s",)),
    "time_limit_s": ("Prescribed time limit", ("time_limit_s",)),
    "verdict": ("Verdict", ("verdict",)),
    "completed_at": ("Completed", ("completed_at",)),
}


@pytest.fixture(scope="module")
def data() -> ReportData:
    driver = play_seed_outage(seed_snapshot())
    return compute(driver.record(), driver.log, [])


def _from_display(key: str, text: str) -> Any:
    """A Markdown/HTML cell as the JSON value it shows."""
    if key.endswith("_s"):
        return parse_seconds(text)
    if key == "reach_rate":
        return float(text.rstrip("%"))
    if key.endswith("_at"):  # the organisation's wall clock (Brussels), compared in UTC
        if text == "-":
            return None
        wall, zone = text.rsplit(" ", 1)
        assert zone in ("CET", "CEST"), text
        local = datetime.strptime(wall, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Europe/Brussels"))
        return local.astimezone(UTC).replace(tzinfo=None).isoformat()
    return int(text) if text.isdigit() else text


def _from_csv(key: str, text: str) -> Any:
    if key == "reach_rate":
        return float(text)
    if key.endswith("_at"):
        return datetime.fromisoformat(text).replace(tzinfo=None).isoformat() if text else None
    return int(text) if text.lstrip("-").isdigit() else (text or None)


def _from_json(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for part in path:
        value = value[part]
    if isinstance(value, str) and path[-1].endswith("_at"):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None).isoformat()
    return value


def test_the_four_formats_agree_on_the_summary(data: ReportData) -> None:
    doc = json.loads(to_json(data))
    expected = {key: _from_json(doc, path) for key, (_, path) in SUMMARY.items()}
    assert (
        expected["confirmed"] == 12 and expected["verdict"] == "PASS WITH EXCEPTIONS"
    )  # the reference itself is right

    cells = csv_cells(to_csv(data))
    from_csv = {key: _from_csv(key, cells[("summary", "", key)]) for key in SUMMARY}

    md_rows = {row[0]: row[1] for row in markdown_tables(to_markdown(data))["Summary"][1:]}
    from_md = {key: _from_display(key, md_rows[label]) for key, (label, _) in SUMMARY.items()}

    tables, _ = html_tables(to_html(data))
    html_rows = {row[0]: row[1] for row in tables["summary"][1:]}
    from_html = {key: _from_display(key, html_rows[label]) for key, (label, _) in SUMMARY.items()}

    assert from_csv == expected
    assert from_md == expected
    assert from_html == expected


def test_the_four_formats_agree_on_levels_people_and_misses(data: ReportData) -> None:
    doc = json.loads(to_json(data))
    md = markdown_tables(to_markdown(data))
    html, _ = html_tables(to_html(data))
    cells = csv_cells(to_csv(data))

    levels = [(lv["level"], lv["acknowledged"], lv["median_s"], lv["worst_s"]) for lv in doc["levels"]]
    for rows in (md["Time to acknowledge by tree level"][1:], html["levels"][1:]):
        assert [(int(r[0]), int(r[2]), parse_seconds(r[3]), parse_seconds(r[4])) for r in rows] == levels
    assert [
        (
            int(level),
            int(cells[("levels", level, "acknowledged")]),
            int(cells[("levels", level, "median_s")]),
            int(cells[("levels", level, "worst_s")]),
        )
        for level in ("0", "1", "2")
    ] == levels

    people = {
        p["person_id"]: (p["outcome"], p["ack_from_start_s"], p["ack_from_notified_s"]) for p in doc["people"]
    }
    for rows in (md["People"][1:], html["people"][1:]):
        assert {r[0]: (r[3], parse_seconds(r[6]), parse_seconds(r[7])) for r in rows} == people
    assert {
        pid: (
            cells[("people", pid, "outcome")],
            _from_csv("x", cells[("people", pid, "ack_from_start_s")]),
            _from_csv("x", cells[("people", pid, "ack_from_notified_s")]),
        )
        for pid in people
    } == people

    misses = {m["name"]: "; ".join(m["reasons"]) for m in doc["unreachable"]}
    assert set(misses) == {"Dirk Database", "Wim Wan"}
    for rows in (md["Not reached, and why"][1:], html["unreachable"][1:]):
        assert {r[1]: r[3] for r in rows} == misses
    assert {
        cells[("unreachable", m["person_id"], "name")]: cells[("unreachable", m["person_id"], "reasons")]
        for m in doc["unreachable"]
    } == misses

    actions = [f["action"] for f in doc["findings"]]
    assert [r[2] for r in md["Data-quality findings (actions)"][1:]] == actions
    assert [r[2] for r in html["findings"][1:]] == actions
    assert [cells[("findings", str(i), "action")] for i in range(1, len(actions) + 1)] == actions

    assert len(md["Timeline"]) - 1 == len(html["timeline"]) - 1 == len(doc["timeline"]) > 50


def test_png_is_a_valid_image_of_the_curve(data: ReportData) -> None:
    png = plot_curve(data)
    assert png.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[0] >= 300 and image.shape[1] >= 600
    # the curve is drawn in its own blue: some pixels must carry it
    blue = (abs(image[..., 0] - 0x1F / 255) < 0.05) & (abs(image[..., 2] - 0xA8 / 255) < 0.05)
    assert blue.sum() > 200
    assert [p.confirmed for p in data.curve] == list(range(13))


def test_html_is_self_contained_and_embeds_the_png(data: ReportData) -> None:
    html = to_html(data)
    _, images = html_tables(html)
    [source] = images
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    assert re.search(r"\+\d", source) is None  # contact masking of the page cannot touch the image
    assert mask_text(html) == html
    png = base64.b64decode(source[len(prefix) :])
    assert png == plot_curve(data)
    assert matplotlib.image.imread(io.BytesIO(png), format="png").ndim == 3
    assert "http://" not in html and "https://" not in html
    assert "@media print" in html


def test_no_full_contact_data_in_any_format(data: ReportData) -> None:
    for text in (to_markdown(data), to_csv(data), to_json(data), to_html(data)):
        assert "+32470100" not in text
        assert "db-lead@example.org" not in text and "coordinator@example.org" not in text


def test_activity_log_export_has_the_nist_columns() -> None:
    driver = play_seed_outage(seed_snapshot())
    rows = activity_rows(driver.record(), driver.log)
    cells = list(csv.reader(io.StringIO(activity_log_csv(rows))))
    assert cells[0] == ["step", "who", "started", "completed", "problems"]
    by_step = {row[0]: row for row in cells[1:]}
    database = by_step["Notify Database Recovery Team"]
    assert database[1] == "Dora Alternate"
    assert (database[2], database[3]) == ("2026-03-10T09:01:00+00:00", "2026-03-10T09:14:00+00:00")
    assert "Dirk Database: SMS to +3247*****" in database[4] and "invalid number (error 21211)" in database[4]
    assert by_step["Notify Wan Engineer"][1] == "(unreachable)"
    assert by_step["Call tree complete (rule 'all')"][3] == "2026-03-10T09:18:00+00:00"
    markdown = activity_log_markdown(rows, "SEED outage")
    assert "| Step | By whom | Initiated | Completed | Problems or concerns |" in markdown
    assert markdown.count("\n| Notify ") == 14


def test_after_action_report_skeleton() -> None:
    driver = play_seed_outage(seed_snapshot())
    text = after_action_report(compute(driver.record(), driver.log, []))
    for heading in (
        "Objectives and success criteria",
        "What happened",
        "Lessons learned",
        "Corrective actions",
    ):
        assert f". {heading}" in text
    assert "Verdict: **PASS WITH EXCEPTIONS**" in text and "12 of 15 people confirmed (80.0%)" in text
    assert "| Update the mobile number of Dirk Database (+3247*****" in text
    assert "_(to fill in)_" in text
