"""Routing alerts to call trees with the service's BIA (seed 000 RTO tiers)."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.alerts import Alert, parse_grafana, parse_native
from notifier.domain.calltree import ActivationKind, OnResolved
from notifier.domain.routing import Urgency, find_service, route_alert

from .payloads import grafana_eos_high
from .plan_fixture import PLAN, TREES

NOW = datetime(2026, 3, 2, 7, 16, tzinfo=UTC)


def native(service: str, severity: str = "critical", **labels: str) -> Alert:
    body = {"service": service, "severity": severity, "summary": f"{service} alert", "labels": labels}
    return parse_native(body, received_at=NOW)


def test_tier1_seed_pages_at_once_with_the_seed_tree() -> None:
    decision = route_alert(native("seed", severity="warning"), PLAN, TREES)
    assert decision is not None
    assert decision.route == "tier1-pages"
    assert decision.calltree == "seed-incident"
    assert decision.policy == "urgent"  # the tree's default policy
    assert decision.on_resolved is OnResolved.CLOSE
    assert decision.service_id == "SEED" and decision.rto_tier == 1
    assert decision.urgency is Urgency.PAGE_NOW


def test_tier2_service_follows_its_route_with_route_policy() -> None:
    decision = route_alert(native("TARIC"), PLAN, TREES)
    assert decision is not None
    assert (decision.route, decision.calltree, decision.policy) == (
        "customs-critical",
        "customs-lead",
        "urgent",
    )
    assert decision.urgency is Urgency.AS_ROUTED


def test_service_matched_by_alias_case_insensitively() -> None:
    assert find_service(PLAN, "speed") is not None
    decision = route_alert(native("Speed"), PLAN, TREES)
    assert decision is not None and decision.service_id == "SPEED-ECN"


def test_severity_must_match() -> None:
    assert route_alert(native("TARIC", severity="warning"), PLAN, TREES) is None


def test_sources_and_labels_criteria() -> None:
    (eos,) = parse_grafana(grafana_eos_high(), received_at=NOW)
    warning = eos.model_copy(update={"labels": {**eos.labels, "severity": "warning"}})
    assert route_alert(warning, PLAN, TREES) is None
    tagged = warning.model_copy(update={"labels": {**warning.labels, "team": "customs"}})
    decision = route_alert(tagged, PLAN, TREES)
    assert decision is not None and decision.route == "grafana-only"
    native_tagged = native("EOS", severity="warning", team="customs")
    assert route_alert(native_tagged, PLAN, TREES) is None  # the route is for Grafana only


def test_rto_tier_3_route_keeps_its_kind() -> None:
    decision = route_alert(native("TARREP", severity="info"), PLAN, TREES)
    assert decision is not None
    assert decision.route == "tier3-lead" and decision.kind is ActivationKind.TEST


def test_unknown_service_matches_no_tier_route() -> None:
    assert route_alert(native("WEB2000"), PLAN, TREES) is None
