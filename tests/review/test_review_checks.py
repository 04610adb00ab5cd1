"""Each review check on a small hand-built plan: the clean plan has no findings, one defect one finding.

The base plan is the SEED service (seed-000: Excise, DIGIT, strategic, RTO tier 1) run by the NIST
roles of an ISCP coordinator and a team leader, each with an alternate; every test breaks one thing.
"""

from __future__ import annotations

import copy
from typing import Any

from notifier.domain.calltree import TreeSet
from notifier.domain.plan import Plan
from notifier.domain.review import Finding, normalise_name, review_plan
from tests.review.minimal import TODAY, TREES, plan_data
from tests.review.minimal import person as _person


def review(data: dict[str, Any], trees: dict[str, Any] | None = None) -> list[Finding]:
    tree_set = TreeSet.model_validate(trees if trees is not None else TREES)
    return review_plan(Plan.model_validate(data), tree_set, TODAY)


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def test_clean_plan_has_no_findings() -> None:
    assert review(plan_data()) == []


def test_team_lead_without_alternate_is_an_error_citing_nist() -> None:
    data = plan_data()
    data["roles"][1]["alternates"] = []
    finding = only(review(data), "lead-no-alternate")
    assert (finding.severity, finding.path, finding.subject) == (
        "error",
        ("roles", 1),
        "server-recovery-lead",
    )
    assert "Team leaders should have a designated alternate" in finding.message


def test_other_role_without_alternate_is_info() -> None:
    data = plan_data()
    data["roles"].append({"id": "help-desk-tech", "name": "Help Desk Technician", "primary": "p-lead-alt"})
    data["teams"][0]["members"] = ["help-desk-tech"]
    finding = only(review(data), "role-no-alternate")
    assert (finding.severity, finding.path) == ("info", ("roles", 2))


def test_role_nobody_holds_is_an_error() -> None:
    data = plan_data()
    data["roles"].append({"id": "dbms-admin", "name": "DBMS Administrator"})
    data["teams"][0]["members"] = ["dbms-admin"]
    finding = only(review(data), "role-no-holder")
    assert (finding.severity, finding.subject) == ("error", "dbms-admin")


def test_person_with_office_numbers_only() -> None:
    data = plan_data()
    data["people"][3]["contacts"] = [c for c in data["people"][3]["contacts"] if c.get("label") != "mobile"]
    finding = only(review(data), "contact-numbers")
    assert (finding.path, finding.subject) == (("people", 3, "contacts"), "p-lead-alt")
    assert "non-office" in finding.message


def test_person_without_office_number_counts_email_for_nothing() -> None:
    data = plan_data()
    contacts = data["people"][2]["contacts"]
    data["people"][2]["contacts"] = [c for c in contacts if c["kind"] == "email" or c.get("label") != "work"]
    data["people"][2]["contacts"].append({"kind": "email", "address": "p-lead@example.org", "label": "work"})
    finding = only(review(data), "contact-numbers")
    assert "no office" in finding.message


def test_vendor_contacts_are_not_held_to_the_staff_number_rule() -> None:
    data = plan_data()
    data["people"][4]["contacts"] = data["people"][4]["contacts"][:1]
    assert review(data) == []


def test_stale_contact_details() -> None:
    data = plan_data()
    data["people"][1]["last_verified"] = "2026-08-23"  # 91 days before TODAY, policy 90
    finding = only(review(data), "contact-stale")
    assert (finding.path, finding.severity) == (("people", 1, "last_verified"), "warning")
    assert "91 days" in finding.message


def test_contact_verified_exactly_at_the_limit_is_fine() -> None:
    data = plan_data()
    data["people"][1]["last_verified"] = "2026-08-24"  # 90 days
    assert review(data) == []


def test_review_days_come_from_the_policy() -> None:
    data = plan_data()
    data["organisation"]["review_policy"] = {"contact_review_days": 20}
    assert {f.subject for f in review(data) if f.code == "contact-stale"} == {
        "p-coord",
        "p-coord-alt",
        "p-lead",
        "p-lead-alt",
        "v-kim",
    }


def test_missing_last_verified() -> None:
    data = plan_data()
    del data["people"][0]["last_verified"]
    finding = only(review(data), "contact-unverified")
    assert finding.path == ("people", 0)


def test_seed_strategy_slower_than_rto_tier() -> None:
    data = plan_data()
    data["services"][0]["strategy"] = "Intermediate"  # as in seed-000 Table 3-5
    finding = only(review(data), "bia-strategy-slower-than-rto")
    assert (finding.severity, finding.path, finding.subject) == ("error", ("services", 0, "strategy"), "SEED")


def test_taric_gradual_strategy_against_tier_2() -> None:
    data = plan_data()
    data["services"][1].update(id="TARIC", name="TARIC", aliases=[], strategy="Gradual")
    finding = only(review(data), "bia-strategy-slower-than-rto")
    assert finding.subject == "TARIC"
    assert "48 h" in finding.message


def test_tier_3_with_gradual_strategy_is_consistent() -> None:
    data = plan_data()
    data["services"][1].update(rto_tier=3, mtd_hours=None, classification="moderate", strategy="Gradual")
    assert review(data) == []


def test_tedb_rto_tier_above_mtd() -> None:
    data = plan_data()
    data["services"][1].update(
        id="TEDB",
        name="Taxes in Europe Database",
        aliases=[],
        mtd_hours=24,
        rto_tier=3,
        strategy="Gradual",
        classification="moderate",
    )
    finding = only(review(data), "bia-rto-exceeds-mtd")
    assert (finding.severity, finding.path) == ("error", ("services", 1, "rto_tier"))
    assert "24 h" in finding.message and "48 h" in finding.message


def test_strategic_service_without_tier_1_rpo_is_info() -> None:
    data = plan_data()
    data["services"][0]["rpo_tier"] = 2
    finding = only(review(data), "bia-rpo-tier")
    assert (finding.severity, finding.path) == ("info", ("services", 0, "rpo_tier"))


def test_art_stricter_rpo_than_rto_is_fine() -> None:
    data = plan_data()
    data["services"][1].update(
        id="ART", name="ART", aliases=[], classification="moderate", mtd_hours=None, rto_tier=3, rpo_tier=1
    )
    assert review(data) == []


def test_critical_service_without_owner_or_recovery_team() -> None:
    data = plan_data()
    del data["services"][1]["owner_role"]
    del data["services"][1]["recovery_team"]
    findings = review(data)
    assert only(findings, "service-no-owner").subject == "SPEED-ECN"
    assert only(findings, "service-no-recovery-team").path == ("services", 1)


def test_moderate_service_may_lack_an_owner() -> None:
    data = plan_data()
    data["services"][1].update(classification="moderate")
    del data["services"][1]["owner_role"]
    assert review(data) == []


def test_duplicate_service_name_like_crms_twice() -> None:
    data = plan_data()
    data["services"].append({"id": "CRMS", "name": "CRMS", "classification": "moderate"})
    data["services"].append({"id": "CRMS-T35", "name": "CRMS", "classification": "moderate"})
    finding = only(review(data), "service-duplicate")
    assert (finding.path, finding.subject) == (("services", 3, "name"), "CRMS-T35")
    assert "CRMS" in finding.message and "duplicate" in finding.message


def test_alias_equal_to_another_services_name_after_normalising() -> None:
    data = plan_data()
    data["services"].append({"id": "SPEED-2", "name": "Speed 2", "aliases": ["speed_ecn"]})
    finding = only(review(data), "service-duplicate")
    assert finding.path == ("services", 2, "aliases", 0)


def test_alias_of_its_own_name_is_not_a_duplicate() -> None:
    data = plan_data()
    data["services"].append({"id": "SURV2", "name": "SURV2", "aliases": ["Surv2"]})
    assert review(data) == []


def test_normalise_name() -> None:
    assert normalise_name("SPEED-ECN") == normalise_name("speed ecn") == "speedecn"


def test_vendor_without_contacts_or_sla() -> None:
    data = plan_data()
    data["vendors"].append({"id": "v-woodgrove", "name": "Woodgrove Networks", "sla_response_hours": 4})
    findings = review(data)
    assert only(findings, "vendor-no-contact").path == ("vendors", 1)
    sla = only(findings, "vendor-no-sla")
    assert "sla_onsite_hours" in sla.message and "sla_response_hours" not in sla.message


def test_tree_coordinator_without_alternate() -> None:
    data = plan_data()
    data["roles"][0]["alternates"] = []
    findings = review(data)
    finding = only(findings, "tree-coordinator-no-alternate")
    assert (finding.source, finding.path, finding.subject) == (
        "trees",
        ("calltrees", 0, "coordinator_role"),
        "nist-sample",
    )
    assert only(findings, "lead-no-alternate").subject == "iscp-coordinator"


def test_tree_without_own_coordinator_points_at_the_organisation() -> None:
    data = plan_data()
    data["roles"][0]["alternates"] = []
    trees = copy.deepcopy(TREES)
    del trees["calltrees"][0]["coordinator_role"]
    finding = only(review(data, trees), "tree-coordinator-no-alternate")
    assert (finding.source, finding.path) == ("plan", ("organisation", "coordinator_role"))


def test_person_in_no_role() -> None:
    data = plan_data()
    data["people"].append(_person("p-nobody", 9))
    finding = only(review(data), "person-no-role")
    assert (finding.severity, finding.subject) == ("info", "p-nobody")


def test_role_in_no_tree() -> None:
    data = plan_data()
    data["roles"].append(
        {"id": "dbms-admin", "name": "DBMS Administrator", "primary": "p-lead", "alternates": ["p-lead-alt"]}
    )
    finding = only(review(data), "role-unused")
    assert (finding.severity, finding.path) == ("info", ("roles", 2))


def test_tree_checks_need_trees() -> None:
    data = plan_data()
    data["roles"].append(
        {"id": "dbms-admin", "name": "DBMS Administrator", "primary": "p-lead", "alternates": ["p-lead-alt"]}
    )
    assert review_plan(Plan.model_validate(data), None, TODAY) == []


def test_errors_come_first() -> None:
    data = plan_data()
    data["people"][1]["last_verified"] = "2020-01-01"
    data["services"][0]["strategy"] = "Gradual"
    severities = [f.severity for f in review(data)]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert severities[0] == "error"
