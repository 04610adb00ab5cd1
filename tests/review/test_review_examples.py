"""The example plan and call trees (config/, calltrees/) load cleanly, and the review finds exactly the
contradictions of seed-000 and the gaps the YAML comments call deliberate, at the right lines.

Expected lines are found by reading the YAML text, not written down, so moving an entry keeps the
test honest; adding an undeclared gap to the examples makes it fail.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from notifier.domain.review import review_plan
from notifier.plan.loader import Loaded, load

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "config" / "plan.yaml"
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def loaded() -> Loaded:
    return load([ROOT / "config", ROOT / "calltrees"])


def line_of(item: str, key: str | None = None) -> int:
    """1-based line of `  - id: <item>` in plan.yaml, or of `<key>:` inside that entry."""
    lines = PLAN.read_text().splitlines()
    heads = (f"- id: {item}", f"- {{id: {item},")
    start = next(
        i for i, text in enumerate(lines) if text.strip() == heads[0] or text.strip().startswith(heads[1])
    )
    if key is None:
        return start + 1
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("  - "):
            break
        if lines[i].strip().startswith(f"{key}:"):
            return i + 1
    raise AssertionError(f"{key} not in entry {item}")


def test_examples_load_without_any_problem(loaded: Loaded) -> None:
    assert loaded.ok
    assert [p.format() for p in loaded.problems] == []
    assert loaded.plan is not None and loaded.trees is not None
    assert len(loaded.plan.services) == 33  # the 31 applications, the second CRMS row, the Service Desk
    assert {t.id for t in loaded.trees.calltrees} == {
        "nist-sample",
        "taxud-crisis",
        "taxud-team-leads",
        "all-staff",
    }


def test_seed_values_are_kept(loaded: Loaded) -> None:
    assert loaded.plan is not None
    seed = loaded.plan.service("SEED")
    assert seed is not None
    assert (seed.rto_tier, seed.rpo_tier, seed.strategy, seed.mtd_hours) == (1, 1, "Intermediate", 3.5)
    assert "05:00-23:00" in seed.service_window
    portal = loaded.plan.service("ITSM-PORTAL")
    assert portal is not None and portal.dependencies == ("CS-RD",)
    assert loaded.plan.organisation.timezone == "Europe/Brussels"


def _rto_band_is_the_mtd(loaded: Loaded) -> set[str]:
    """Services whose MTD is the upper bound of their RTO tier (the seed gives bands, not hours)."""
    assert loaded.plan is not None
    tiers = loaded.plan.organisation.rto_tiers
    return {
        s.id
        for s in loaded.plan.services
        if s.mtd_hours is not None and s.rto_tier in tiers and tiers[s.rto_tier].max_hours == s.mtd_hours
    }


def test_review_finds_the_seeded_contradictions_and_deliberate_gaps(loaded: Loaded) -> None:
    """Errors and warnings are exactly the documented ones; info findings are not judged here."""
    assert loaded.plan is not None
    findings = [f for f in review_plan(loaded.plan, loaded.trees, TODAY) if f.severity != "info"]
    found = {(f.code, f.subject): loaded.locate(f.source, f.path) for f in findings}
    expected = {
        ("bia-strategy-slower-than-rto", "SEED"): line_of("SEED", "strategy"),
        ("bia-strategy-slower-than-rto", "TARIC"): line_of("TARIC", "strategy"),
        ("bia-rto-exceeds-mtd", "TEDB"): line_of("TEDB", "rto_tier"),
        ("service-duplicate", "CRMS-T35"): line_of("CRMS-T35", "name"),
        ("vendor-no-contact", "v-woodgrove"): line_of("v-woodgrove"),
        ("vendor-no-sla", "v-woodgrove"): line_of("v-woodgrove"),
        ("vendor-no-contract", "v-woodgrove"): line_of("v-woodgrove", "contract_number"),
    }
    banded = _rto_band_is_the_mtd(loaded)
    assert len(banded) == 14 and "SEED" in banded  # 13 critical services at 48 h, SEED at 3.5 h
    expected.update({("bia-rto-equals-mtd", sid): line_of(sid, "rto_tier") for sid in banded})
    assert set(found) == set(expected)
    for key, line in expected.items():
        location = found[key]
        assert location is not None and location.file == str(PLAN), key
        assert location.line == line, key


def test_every_tree_fits_its_time_limit_under_every_policy(loaded: Loaded) -> None:
    assert loaded.plan is not None and loaded.trees is not None
    codes = {f.code for f in review_plan(loaded.plan, loaded.trees, TODAY)}
    assert not codes & {
        "tree-worst-case-exceeds-limit",
        "tree-limit-exceeds-rto",
        "tree-worst-case-exceeds-rto",
    }


def test_severities_of_the_examples(loaded: Loaded) -> None:
    assert loaded.plan is not None
    errors = {f.subject for f in review_plan(loaded.plan, loaded.trees, TODAY) if f.severity == "error"}
    assert errors == {"SEED", "TARIC", "TEDB"}


def test_every_contact_number_in_the_examples_is_fictitious_or_placeholder(loaded: Loaded) -> None:
    assert loaded.plan is not None
    reserved = ("+44207946", "+44121496", "+44161496", "+3247099", "+352621990")
    for person in loaded.plan.people:
        for contact in person.contacts:
            if contact.kind.value == "email":
                assert contact.address.endswith("example.org"), person.id
            else:
                assert contact.address.startswith(reserved), person.id
