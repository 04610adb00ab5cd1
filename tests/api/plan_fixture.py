"""A small ITSCM plan from seed 000 (TAXUD services, RTO tiers) with NIST roles, and call trees."""

from __future__ import annotations

from notifier.domain.calltree import TreeSet
from notifier.domain.plan import Plan

PLAN = Plan.model_validate(
    {
        "organisation": {
            "name": "DG TAXUD ITSM",
            "timezone": "Europe/Brussels",
            "coordinator_role": "iscp-coord",
        },
        "people": [
            {
                "id": "p-ana",
                "name": "Ana Coordinator",
                "contacts": [
                    {"kind": "sms", "address": "+32471234556", "label": "mobile"},
                    {"kind": "email", "address": "ana.coord@example.org"},
                ],
            },
            {
                "id": "p-ben",
                "name": "Ben Alternate",
                "contacts": [{"kind": "voice", "address": "+32478765412", "label": "mobile"}],
            },
        ],
        "roles": [
            {"id": "iscp-coord", "name": "ISCP Coordinator", "primary": "p-ana", "alternates": ["p-ben"]},
            {"id": "system-owner", "name": "System Owner", "primary": "p-ben"},
        ],
        "services": [
            {"id": "SEED", "name": "SEED", "classification": "strategic", "rto_tier": 1, "rpo_tier": 1},
            {"id": "TARIC", "name": "TARIC", "classification": "critical", "rto_tier": 2, "rpo_tier": 1},
            {"id": "EOS", "name": "EOS", "classification": "critical", "rto_tier": 2, "rpo_tier": 1},
            {"id": "SPEED-ECN", "name": "SPEED-ECN", "aliases": ["SPEED"], "rto_tier": 2},
            {"id": "TARREP", "name": "TARREP", "classification": "moderate", "rto_tier": 3, "rpo_tier": 2},
        ],
    }
)

TREES = TreeSet.model_validate(
    {
        "policies": [
            {"id": "urgent", "methods": [{"kind": "voice"}, {"kind": "sms"}], "ack_wait": "2m"},
            {"id": "standard", "methods": [{"kind": "sms"}, {"kind": "email"}], "ack_wait": "10m"},
        ],
        "calltrees": [
            {
                "id": "seed-incident",
                "name": "SEED incident call tree",
                "policy": "urgent",
                "nodes": [{"role": "iscp-coord", "children": [{"role": "system-owner"}]}],
            },
            {
                "id": "customs-lead",
                "name": "Customs thread lead only",
                "policy": "standard",
                "nodes": [{"role": "system-owner"}],
            },
        ],
        "routes": [
            {
                "id": "tier1-pages",
                "match": {"rto_tiers": [1]},
                "calltree": "seed-incident",
                "on_resolved": "close",
            },
            {
                "id": "customs-critical",
                "match": {"services": ["TARIC", "EOS", "SPEED-ECN"], "severities": ["critical"]},
                "calltree": "customs-lead",
                "policy": "urgent",
            },
            {
                "id": "grafana-only",
                "match": {"sources": ["grafana"], "labels": {"team": "customs"}},
                "calltree": "customs-lead",
            },
            {"id": "tier3-lead", "match": {"rto_tiers": [3]}, "calltree": "customs-lead", "kind": "test"},
        ],
    }
)
