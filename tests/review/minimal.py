"""The smallest plan and call tree `plan check` has nothing to say about (tests break one thing each).

The SEED service (seed-000: Excise, DIGIT, strategic, RTO tier 1) and SPEED-ECN (critical, tier 2),
run by an ISCP coordinator and a server recovery team leader, each with an alternate at no site;
the plan is approved, reviewed, distributed, its tree drilled, and it names the three NIST App. F
alternates (site, storage, telecommunications).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

TODAY = date(2026, 11, 22)


def person(pid: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Person {pid}",
        "last_verified": "2026-11-01",
        "contacts": [
            {"kind": "voice", "address": f"+44207946{n:04d}", "label": "work"},
            {"kind": "sms", "address": f"+3247099{n:04d}", "label": "mobile"},
            {"kind": "email", "address": f"{pid}@example.org"},
        ],
        **extra,
    }


BASE: dict[str, Any] = {
    "organisation": {
        "name": "DG TAXUD ITSM (test)",
        "timezone": "Europe/Brussels",
        "coordinator_role": "iscp-coordinator",
        "plan_owner_role": "iscp-coordinator",
        "governance": {
            "approval": {"role": "iscp-coordinator", "person": "p-coord", "date": "2026-10-20"},
            "last_reviewed": "2026-10-20",
            "last_tested": {"nist-sample": "2026-10-01"},
            "distribution": [
                {"holder": "iscp-coordinator", "issued": "2026-10-21", "acknowledged": "2026-10-21"}
            ],
        },
        "rto_tiers": {
            1: {"min_hours": 0, "max_hours": 3.5},
            2: {"min_hours": 3.5, "max_hours": 48},
            3: {"min_hours": 48},
        },
        "rpo_tiers": {1: {"min_hours": 12, "max_hours": 24}, 2: {"min_hours": 24, "max_hours": 120}},
        "strategies": {
            "Fast": {"max_recovery_hours": 3.5},
            "Intermediate": {"min_recovery_hours": 3.5, "max_recovery_hours": 48},
            "Gradual": {"min_recovery_hours": 48},
        },
    },
    "people": [
        person("p-coord", 1),
        person("p-coord-alt", 2),
        person("p-lead", 3),
        person("p-lead-alt", 4),
        person("v-kim", 801, affiliation="v-contoso"),
    ],
    "roles": [
        {
            "id": "iscp-coordinator",
            "name": "ISCP Coordinator",
            "primary": "p-coord",
            "alternates": ["p-coord-alt"],
        },
        {
            "id": "server-recovery-lead",
            "name": "Server Recovery TL",
            "primary": "p-lead",
            "alternates": ["p-lead-alt"],
        },
    ],
    "teams": [{"id": "RT-SRV", "name": "Server Recovery Team", "lead": "server-recovery-lead"}],
    "sites": [
        {
            "id": f"alt-{n}",
            "name": f"Alternate {n}",
            "purpose": purpose,
            "contacts": ["p-coord-alt"],
            "authorised_roles": ["iscp-coordinator"],
        }
        for n, purpose in enumerate(("alternate_site", "alternate_storage", "alternate_telecom"))
    ],
    "services": [
        {
            "id": "SEED",
            "name": "SEED",
            "classification": "strategic",
            "mtd_hours": 8,
            "rto_tier": 1,
            "rpo_tier": 1,
            "strategy": "Fast",
            "owner_role": "iscp-coordinator",
            "recovery_team": "RT-SRV",
        },
        {
            "id": "SPEED-ECN",
            "name": "SPEED-ECN",
            "aliases": ["SPEED"],
            "classification": "critical",
            "mtd_hours": 72,
            "rto_tier": 2,
            "rpo_tier": 1,
            "strategy": "Intermediate",
            "owner_role": "iscp-coordinator",
            "recovery_team": "RT-SRV",
        },
    ],
    "vendors": [
        {
            "id": "v-contoso",
            "name": "Contoso Storage",
            "contract_number": "ITSM-HW-1",
            "sla_response_hours": 2,
            "sla_onsite_hours": 4,
            "contacts": ["v-kim"],
        }
    ],
}

TREES: dict[str, Any] = {
    "calltrees": [
        {
            "id": "nist-sample",
            "name": "NIST sample",
            "policy": "standard",
            "coordinator_role": "iscp-coordinator",
            "nodes": [{"role": "iscp-coordinator", "children": [{"team": "RT-SRV"}]}],
        }
    ],
    "policies": [{"id": "standard", "methods": [{"kind": "sms"}]}],
}


def plan_data() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def trees_data() -> dict[str, Any]:
    return copy.deepcopy(TREES)
