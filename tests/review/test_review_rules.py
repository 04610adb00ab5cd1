"""Every defect of the issue-17 audit (46 injected into copies of the example plan and trees) is caught.

One table row per defect: what the audit injected, the rule code that must catch it, how to break the
minimal plan of `minimal.py` that way, and (where there is one) a near miss the rule must leave alone.
Each row is run through the real loader from YAML text, so the finding is also checked to point at the
line of the offending value. Adding a defect is one line; every rule code has at least one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import yaml

from notifier.domain.review import RULES, Finding, Severity, review_plan
from notifier.plan.loader import Loaded, load_texts
from tests.review.minimal import TODAY, plan_data, trees_data

Data = dict[str, Any]
Edit = Callable[[Data, Data], None]


def _walk(doc: Data, dotted: str) -> tuple[Any, str | int]:
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    target: Any = doc
    for part in parts[:-1]:
        target = target[part]
    return target, parts[-1]


def put(dotted: str, value: Any, trees: bool = False) -> Edit:
    """Set `dotted` (e.g. services.1.mtd_hours) in the plan (or the trees)."""

    def edit(plan: Data, tree_data: Data) -> None:
        target, key = _walk(tree_data if trees else plan, dotted)
        if isinstance(target, list) and key == len(target):
            target.append(value)  # `roles.2` on a list of two adds a third entry
        else:
            target[key] = value

    return edit


def drop(dotted: str, trees: bool = False) -> Edit:
    def edit(plan: Data, tree_data: Data) -> None:
        target, key = _walk(tree_data if trees else plan, dotted)
        del target[key]

    return edit


def both(*edits: Edit) -> Edit:
    def edit(plan: Data, tree_data: Data) -> None:
        for one in edits:
            one(plan, tree_data)

    return edit


TIER1_ROUTE = put("routes", [{"id": "tier1", "match": {"rto_tiers": [1]}, "calltree": "nist-sample"}], True)
OAT = put("teams.1", {"id": "OAT", "name": "Outage Assessment Team", "lead": "server-recovery-lead"})
BUSINESS_ONLY = [
    {"kind": "voice", "address": "+442079460003", "label": "work", "hours": "business"},
    {"kind": "sms", "address": "+32470990003", "label": "mobile", "hours": "business"},
]


@dataclass(frozen=True)
class Defect:
    what: str
    code: str
    breaks: Edit
    near_miss: Edit | None = None
    severity: Severity | None = None


DEFECTS = [
    # MTD against RTO
    Defect(
        "MTD 10 h with RTO tier 2 (up to 48 h)",
        "bia-rto-exceeds-mtd",
        put("services.1.mtd_hours", 10),
        put("services.1.mtd_hours", 60),
        "error",
    ),
    Defect(
        "RTO equal to the MTD",
        "bia-rto-equals-mtd",
        put("services.1.mtd_hours", 48),
        both(put("services.1.mtd_hours", 48), put("services.1.rto_hours", 36)),
    ),
    Defect("MTD 1 h on RTO tier 1", "bia-rto-exceeds-mtd", put("services.0.mtd_hours", 1), None, "error"),
    Defect(
        "RTO tier 3 above an MTD of 24 h (TEDB)",
        "bia-rto-exceeds-mtd",
        both(
            put("services.1.rto_tier", 3),
            put("services.1.mtd_hours", 24),
            put("services.1.strategy", "Gradual"),
        ),
    ),
    Defect(
        "rto_hours outside its tier",
        "bia-rto-hours-outside-tier",
        put("services.1.rto_hours", 60),
        put("services.1.rto_hours", 36),
    ),
    Defect(
        "rpo_hours outside its tier",
        "bia-rpo-hours-outside-tier",
        put("services.0.rpo_hours", 48),
        put("services.0.rpo_hours", 12),
    ),
    # strategy against RTO
    Defect(
        "Manual strategy, no hours",
        "bia-strategy-no-time",
        both(
            put("organisation.strategies.Manual", {"description": "paper forms"}),
            put("services.0.strategy", "Manual"),
        ),
        put("services.0.strategy", "Fast"),
    ),
    Defect(
        "tier-1 service without a strategy", "bia-no-strategy", drop("services.0.strategy"), None, "error"
    ),
    Defect(
        "critical service without a strategy",
        "bia-no-strategy",
        drop("services.1.strategy"),
        both(drop("services.1.strategy"), put("services.1.classification", "moderate")),
        "warning",
    ),
    Defect(
        "strategy maximum exceeds the RTO",
        "bia-strategy-may-miss-rto",
        both(
            put("organisation.strategies.Warm", {"min_recovery_hours": 1, "max_recovery_hours": 6}),
            put("services.0.strategy", "Warm"),
        ),
        both(
            put("organisation.strategies.Warm", {"min_recovery_hours": 1, "max_recovery_hours": 3}),
            put("services.0.strategy", "Warm"),
        ),
    ),
    Defect(
        "strategy slower than the RTO (SEED)",
        "bia-strategy-slower-than-rto",
        put("services.0.strategy", "Intermediate"),
        None,
        "error",
    ),
    Defect(
        "critical service without an RTO",
        "bia-no-rto",
        drop("services.1.rto_tier"),
        both(drop("services.1.rto_tier"), put("services.1.rto_hours", 36)),
        "error",
    ),
    Defect(
        "critical service without an owner",
        "service-no-owner",
        drop("services.1.owner_role"),
        None,
        "warning",
    ),
    Defect(
        "tier-1 service without an owner", "service-no-owner", drop("services.0.owner_role"), None, "error"
    ),
    Defect(
        "critical service without a recovery team",
        "service-no-recovery-team",
        drop("services.1.recovery_team"),
    ),
    Defect(
        "dependency recovers later than the service",
        "bia-dependency-slower",
        put("services.0.dependencies", ["SPEED-ECN"]),
        put("services.1.dependencies", ["SEED"]),
        "error",
    ),
    Defect(
        "strategic service without tier-1 RPO", "bia-rpo-tier", put("services.0.rpo_tier", 2), None, "info"
    ),
    Defect(
        "two services named alike (CRMS twice)",
        "service-duplicate",
        put("services.2", {"id": "CRMS-2", "name": "speed ecn"}),
        put("services.2", {"id": "CRMS", "name": "CRMS"}),
    ),
    # who to call
    Defect(
        "one person the alternate of several leaders",
        "alternate-overloaded",
        put("roles.0.alternates", ["p-lead-alt"]),
        put("roles.0.alternates", ["p-coord-alt"]),
    ),
    Defect(
        "alternate already holds another node of the tree",
        "alternate-in-same-tree",
        put("roles.1.alternates", ["p-coord"]),
        None,
        "warning",
    ),
    Defect(
        "primary and alternate at the same site",
        "alternate-same-site",
        both(put("people.2.site", "alt-0"), put("people.3.site", "alt-0")),
        both(put("people.2.site", "alt-0"), put("people.3.site", "alt-1")),
        "warning",
    ),
    Defect(
        "every contact method limited to business hours",
        "contact-business-hours-only",
        put("people.2.contacts", BUSINESS_ONLY),
        put("people.2.contacts.1.hours", "after_hours"),
    ),
    Defect(
        "office number entered again as mobile",
        "contact-duplicate-number",
        put("people.2.contacts.1.address", "+442079460003"),
        None,
    ),
    Defect("no non-office number", "contact-numbers", put("people.2.contacts.1.label", "work")),
    Defect(
        "verification date in the future",
        "contact-verified-in-future",
        put("people.2.last_verified", "2027-01-05"),
        put("people.2.last_verified", "2026-11-22"),
        "error",
    ),
    Defect("contact details never verified", "contact-unverified", drop("people.2.last_verified")),
    Defect(
        "contact details stale",
        "contact-stale",
        put("people.2.last_verified", "2026-01-05"),
        put("people.2.last_verified", "2026-08-24"),
    ),
    Defect(
        "person in no role",
        "person-no-role",
        put("people.5", {"id": "p-x", "name": "X", "contacts": [{"kind": "sms", "address": "+32470990009"}]}),
    ),
    Defect(
        "role nobody holds",
        "role-no-holder",
        put("roles.2", {"id": "dbms-admin", "name": "DBMS Administrator"}),
    ),
    Defect(
        "role without alternate",
        "role-no-alternate",
        both(
            put("roles.2", {"id": "dbms-admin", "name": "DBMS", "primary": "p-lead"}),
            put("teams.0.members", ["dbms-admin"]),
        ),
        None,
        "info",
    ),
    Defect(
        "crisis-team lead without alternate",
        "lead-no-alternate",
        put("roles.1.alternates", []),
        None,
        "error",
    ),
    Defect(
        "role in no call tree",
        "role-unused",
        put(
            "roles.2", {"id": "dbms-admin", "name": "DBMS", "primary": "p-lead", "alternates": ["p-lead-alt"]}
        ),
    ),
    Defect(
        "coordinator role removed", "org-no-coordinator", drop("organisation.coordinator_role"), None, "error"
    ),
    Defect("plan-owner role removed", "org-no-plan-owner", drop("organisation.plan_owner_role")),
    Defect(
        "review policy of 3,650 days",
        "review-policy-too-long",
        put("organisation.review_policy", {"plan_review_days": 3650}),
        put("organisation.review_policy", {"plan_review_days": 365}),
    ),
    Defect(
        "contacts reviewed less often than the plan",
        "review-policy-too-long",
        put("organisation.review_policy", {"plan_review_days": 180, "contact_review_days": 200}),
    ),
    # vendors and sites
    Defect(
        "vendor contact with only e-mail",
        "vendor-contact-email-only",
        put("people.4.contacts", [{"kind": "email", "address": "kim@example.org"}]),
    ),
    Defect(
        "missing contract number",
        "vendor-no-contract",
        drop("vendors.0.contract_number"),
        put("vendors.0.contract_number", "ITSM-HW-2023-104"),
    ),
    Defect("contract number 'pending'", "vendor-no-contract", put("vendors.0.contract_number", "pending")),
    Defect(
        "vendor on-site SLA longer than the RTO",
        "vendor-sla-exceeds-rto",
        put("vendors.0.services", ["SEED"]),
        both(put("vendors.0.services", ["SEED"]), put("vendors.0.sla_onsite_hours", 3)),
        "error",
    ),
    Defect("vendor without a contact", "vendor-no-contact", put("vendors.0.contacts", [])),
    Defect("vendor without SLA times", "vendor-no-sla", drop("vendors.0.sla_onsite_hours")),
    Defect("no alternate site at all", "site-no-alternate", put("sites", [])),
    Defect("alternate site without contacts", "site-alternate-no-contact", put("sites.0.contacts", [])),
    # time
    Defect(
        "drill policy whose worst case equals the whole limit",
        "tree-worst-case-exceeds-limit",
        both(put("calltrees.0.time_limit", "45m", True), put("policies.0.methods.0.wait", "45m", True)),
        both(put("calltrees.0.time_limit", "45m", True), put("policies.0.methods.0.wait", "10m", True)),
        "error",
    ),
    Defect(
        "tier-1 tree with a 5 h time limit",
        "tree-limit-exceeds-rto",
        both(TIER1_ROUTE, put("calltrees.0.time_limit", "5h", True)),
        both(TIER1_ROUTE, put("calltrees.0.time_limit", "1h", True)),
        "error",
    ),
    Defect(
        "tier-1 tree whose worst case exceeds the RTO",
        "tree-worst-case-exceeds-rto",
        both(
            TIER1_ROUTE,
            put("calltrees.0.time_limit", "5h", True),
            put("policies.0.methods.0.wait", "1h", True),
        ),
        TIER1_ROUTE,
        "error",
    ),
    Defect(
        "outage assessment team notified late",
        "tree-outage-assessment-late",
        both(
            OAT,
            put(
                "calltrees.0.nodes.0.children",
                [{"role": "server-recovery-lead", "children": [{"team": "OAT"}]}],
                True,
            ),
        ),
        both(OAT, put("calltrees.0.nodes.0.children", [{"team": "OAT"}, {"team": "RT-SRV"}], True)),
    ),
    Defect(
        "tier-1 policy that is e-mail only",
        "policy-email-only",
        both(TIER1_ROUTE, put("policies.0.methods", [{"kind": "email"}], True)),
        TIER1_ROUTE,
        "error",
    ),
    Defect(
        "e-mail-only policy for other alerts",
        "policy-email-only",
        put("policies.0.methods", [{"kind": "email"}], True),
        None,
        "warning",
    ),
    Defect(
        "use_alternates false on the tier-1 policy",
        "policy-no-alternates",
        both(TIER1_ROUTE, put("policies.0.use_alternates", False, True)),
        TIER1_ROUTE,
        "error",
    ),
    Defect(
        "tree coordinator without alternate", "tree-coordinator-no-alternate", put("roles.0.alternates", [])
    ),
    # governance
    Defect("no plan approval", "plan-not-approved", drop("organisation.governance.approval")),
    Defect(
        "approver does not hold the role",
        "plan-approval-not-holder",
        put("organisation.governance.approval.person", "p-lead"),
    ),
    Defect("no last-reviewed date", "plan-never-reviewed", drop("organisation.governance.last_reviewed")),
    Defect(
        "plan_review_days never enforced",
        "plan-review-overdue",
        put("organisation.review_policy", {"plan_review_days": 30}),
        put("organisation.review_policy", {"plan_review_days": 60}),
    ),
    Defect("no last-tested date", "tree-untested", drop("organisation.governance.last_tested")),
    Defect(
        "last test older than tree_test_days",
        "tree-untested",
        put("organisation.governance.last_tested.nist-sample", "2025-06-01"),
    ),
    Defect("no distribution record", "plan-no-distribution", put("organisation.governance.distribution", [])),
    Defect(
        "copy never acknowledged",
        "distribution-unacknowledged",
        drop("organisation.governance.distribution.0.acknowledged"),
        None,
        "info",
    ),
]


#: More near misses, one per rule whose defect row has none: a plan next to the defect that is fine.
NEAR_MISSES: list[tuple[str, Edit]] = [
    ("alternate-in-same-tree", put("roles.1.alternates", ["p-coord-alt"])),
    ("bia-rpo-tier", put("services.1.rpo_tier", 2)),
    ("bia-strategy-slower-than-rto", put("services.1.strategy", "Intermediate")),
    ("contact-duplicate-number", put("people.2.contacts.1.address", "+32470990777")),
    ("contact-numbers", put("people.2.contacts.1.label", "home")),
    ("contact-unverified", put("people.2.last_verified", "2026-11-22")),
    ("distribution-unacknowledged", put("organisation.governance.distribution.0.acknowledged", "2026-11-01")),
    (
        "lead-no-alternate",
        both(
            put("roles.2", {"id": "dba", "name": "DBA", "primary": "p-lead"}), put("teams.0.members", ["dba"])
        ),
    ),
    ("org-no-coordinator", drop("calltrees.0.coordinator_role", True)),
    ("org-no-plan-owner", put("organisation.plan_owner_role", "server-recovery-lead")),
    (
        "person-no-role",
        put(
            "people.5",
            {
                "id": "v-2",
                "name": "Vendor desk",
                "affiliation": "v-contoso",
                "contacts": [{"kind": "sms", "address": "+32470990009"}],
            },
        ),
    ),
    ("plan-approval-not-holder", put("organisation.governance.approval.person", "p-coord-alt")),
    ("plan-never-reviewed", put("organisation.governance.last_reviewed", "2026-01-01")),
    ("plan-no-distribution", drop("organisation.governance.distribution.0.acknowledged")),
    (
        "plan-not-approved",
        put(
            "organisation.governance.approval",
            {"role": "server-recovery-lead", "person": "p-lead", "date": "2026-10-01"},
        ),
    ),
    ("role-no-alternate", put("roles.1.alternates", ["p-lead-alt", "p-coord-alt"])),
    (
        "role-no-holder",
        both(
            put("roles.2", {"id": "dba", "name": "DBA", "alternates": ["p-lead"]}),
            put("teams.0.members", ["dba"]),
        ),
    ),
    (
        "role-unused",
        both(
            put("roles.2", {"id": "dba", "name": "DBA", "primary": "p-lead", "alternates": ["p-lead-alt"]}),
            put("teams.0.members", ["dba"]),
        ),
    ),
    ("service-no-owner", both(put("services.1.classification", "moderate"), drop("services.1.owner_role"))),
    (
        "service-no-recovery-team",
        both(put("services.1.classification", "moderate"), drop("services.1.recovery_team")),
    ),
    ("site-alternate-no-contact", both(put("sites.0.purpose", "primary"), put("sites.0.contacts", []))),
    (
        "site-no-alternate",
        both(
            put("sites", []),
            put("services.0.classification", "moderate"),
            put("services.1.classification", "moderate"),
        ),
    ),
    ("tree-coordinator-no-alternate", put("roles.0.alternates", ["p-coord-alt", "p-lead"])),
    ("tree-untested", put("organisation.governance.last_tested.nist-sample", "2026-01-01")),
    (
        "vendor-contact-email-only",
        put(
            "people.4.contacts",
            [{"kind": "email", "address": "kim@example.org"}, {"kind": "voice", "address": "+442079460801"}],
        ),
    ),
    ("vendor-no-contact", put("vendors.0.services", [])),
    ("vendor-no-sla", put("vendors.0.sla_onsite_hours", 1)),
]


TEXTS: dict[str, str] = {}


def load_broken(edit: Edit) -> tuple[Loaded, list[Finding]]:
    plan, trees = plan_data(), trees_data()
    edit(plan, trees)
    TEXTS.update({"plan.yaml": yaml.safe_dump(plan, sort_keys=False), "trees.yaml": yaml.safe_dump(trees)})
    loaded = load_texts(TEXTS)
    assert loaded.ok, [p.format() for p in loaded.problems]
    assert loaded.plan is not None
    return loaded, review_plan(loaded.plan, loaded.trees, TODAY)


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.what)
def test_defect_is_caught_at_its_line(defect: Defect) -> None:
    loaded, findings = load_broken(defect.breaks)
    caught = [f for f in findings if f.code == defect.code]
    assert caught, f"{defect.what}: no {defect.code} in {[f.code for f in findings]}"
    if defect.severity is not None:
        assert {f.severity for f in caught} == {defect.severity}
    for finding in caught:
        location = loaded.locate(finding.source, finding.path)
        assert location is not None and location.line > 0, finding
        key = finding.path[-1]
        if isinstance(key, str) and len(finding.path) > 1:
            text = TEXTS[location.file].splitlines()[location.line - 1]
            assert f"{key}:" in text or key in text, (finding.path, text)


@pytest.mark.parametrize("defect", [d for d in DEFECTS if d.near_miss], ids=lambda d: d.what)
def test_near_miss_is_left_alone(defect: Defect) -> None:
    assert defect.near_miss is not None
    _, findings = load_broken(defect.near_miss)
    assert defect.code not in {f.code for f in findings}


@pytest.mark.parametrize(("code", "edit"), NEAR_MISSES, ids=[code for code, _ in NEAR_MISSES])
def test_more_near_misses_are_left_alone(code: str, edit: Edit) -> None:
    _, findings = load_broken(edit)
    assert code not in {f.code for f in findings}


def test_every_rule_has_a_defect_row_and_a_near_miss() -> None:
    assert {d.code for d in DEFECTS} == set(RULES)
    assert {d.code for d in DEFECTS if d.near_miss} | {code for code, _ in NEAR_MISSES} == set(RULES)


def test_minimal_plan_is_clean() -> None:
    _, findings = load_broken(lambda plan, trees: None)
    assert findings == []


def test_a_drill_in_the_store_counts_as_the_last_test() -> None:
    loaded, findings = load_broken(drop("organisation.governance.last_tested"))
    assert "tree-untested" in {f.code for f in findings}
    assert loaded.plan is not None
    again = review_plan(loaded.plan, loaded.trees, TODAY, drills={"nist-sample": date(2026, 11, 1)})
    assert "tree-untested" not in {f.code for f in again}


def test_every_rule_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "plan-check.md").read_text()
    assert all(f"`{code}`" in doc for code in RULES)


def test_sender_rates_add_queueing_to_the_worst_case() -> None:
    """A slow sender (one SMS a minute) delays every wave: the same tree now overruns its limit."""
    from notifier.domain.plan import ChannelKind

    loaded, findings = load_broken(put("calltrees.0.time_limit", "22m", True))
    assert "tree-worst-case-exceeds-limit" not in {f.code for f in findings}  # 20m without queueing
    assert loaded.plan is not None
    slow = review_plan(loaded.plan, loaded.trees, TODAY, rates={ChannelKind.SMS: 1 / 60})
    over = [f for f in slow if f.code == "tree-worst-case-exceeds-limit"]
    assert over and "24m" in over[0].message and "22m" in over[0].message
