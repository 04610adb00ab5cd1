"""The BIA (NIST SP 800-34 App. B) and alternate-sites (App. F) appendices, HTML and Markdown, against
their field lists and the example plan (the SEED service carries a full BIA)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.plan.loader import load
from notifier.reports.appendices import render_appendices
from notifier.reports.bia_appendix import (
    BIA_FIELDS,
    PROCESS_FIELDS,
    RESOURCE_FIELDS,
    SITE_FIELDS,
    WORKAROUND_FIELDS,
    bia_and_sites_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
LOADED = load([ROOT / "config", ROOT / "calltrees"])
assert LOADED.plan is not None
PLAN = LOADED.plan
HTML = render_appendices(PLAN, LOADED.trees, [], datetime(2026, 11, 22, tzinfo=UTC), 1)
MARKDOWN = bia_and_sites_markdown(PLAN)
FIELDS = [
    title
    for fields in (BIA_FIELDS, PROCESS_FIELDS, RESOURCE_FIELDS, WORKAROUND_FIELDS, SITE_FIELDS)
    for _, title in fields
]


@pytest.mark.parametrize("title", FIELDS)
def test_every_field_is_a_column_in_both_formats(title: str) -> None:
    assert f"<th>{title}</th>" in HTML.replace("&amp;", "&")
    assert f"| {title} |" in MARKDOWN or f"| {title}" in MARKDOWN


def test_the_nist_fields_are_all_there() -> None:
    """App. B asks for MTD, RTO and RPO in hours, drivers, processes with impact, resources with
    platform and priority, work-arounds; App. F for the three alternates with contacts."""
    titles = " ".join(FIELDS)
    for wanted in (
        "MTD (hours)",
        "RTO (hours)",
        "RPO (hours)",
        "BIA date",
        "Recovery priority",
        "Drivers",
        "Impact by category",
        "Platform",
        "Manual work-around",
        "Authorised to use it",
        "Points of contact",
        "Purpose",
    ):
        assert wanted in titles


def test_seed_values_appear_in_both_formats() -> None:
    for text in (HTML, MARKDOWN):
        assert "Check excise numbers of traders" in text
        assert "cost: severe; reputation: severe" in text
        assert "SEED central application" in text and "2026-09-15" in text
        assert "Member States check excise numbers" in text
        for purpose in ("alternate site", "alternate storage", "alternate telecom"):
            assert purpose in text
        assert "Tailspin Vault" in text and "Luxembourg" in text


def test_every_service_has_a_bia_row() -> None:
    rows = [line for line in MARKDOWN.splitlines() if line.startswith("| ") and " | " in line]
    for service in PLAN.services:
        assert any(f"| {service.name}" in row for row in rows), service.id


def test_appendix_headings_in_html() -> None:
    assert "Appendix E: Business impact analysis" in HTML
    assert "Appendix F: Alternate storage, site and telecommunications" in HTML


def test_plan_control_and_distribution_in_both_formats() -> None:
    """NIST Plan Approval ("last reviewed on", "last tested on") and the distribution record."""
    for text in (HTML, MARKDOWN):
        assert "ISCP Director (Aline Verhoeven): Aline Verhoeven, 2026-10-20" in text
        assert "nist-sample: 2026-10-01" in text
        assert "Luxembourg site binder" in text and "2026-10-23" in text
    for title in ("Copy held by", "Receipt acknowledged", "Plan control"):
        assert f"<th>{title}</th>" in HTML and f"| {title}" in MARKDOWN


def test_dates_are_on_the_organisations_clock() -> None:
    """Generated at 2026-11-22 00:00 UTC: 01:00 in Brussels (CET)."""
    assert "generated 2026-11-22 01:00 CET" in HTML
