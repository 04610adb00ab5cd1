"""The rules of one outage, one activation (`notifier/domain/correlation.py`), one test per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.domain.alerts import Alert, parse_alertmanager, parse_native
from notifier.domain.calltree import IncidentKey, IncidentKeyBy, OnJoin, OnResolved
from notifier.domain.correlation import IncidentFacts, KeyRules, acknowledged, firing, incident_key, resolved

NOW = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
RULES = KeyRules(
    group_window=timedelta(hours=1),
    quiet_period=None,
    on_join=OnJoin.RECORD,
    update_interval=timedelta(minutes=15),
    on_resolved=OnResolved.ANNOUNCE,
)


BASE = IncidentFacts(
    activation_id="a1",
    activation_active=True,
    ended_at=None,
    this_firing=False,
    others_firing=1,
    resolved_at=None,
)


def facts(**changes: Any) -> IncidentFacts:
    """An open activation with another alert of its key firing, changed as given."""
    return replace(BASE, **changes)


def seed(**extra: object) -> Alert:
    return parse_native(
        {"service": "SEED", "severity": "critical", "summary": "SEED down", **extra}, received_at=NOW
    )


def test_the_incident_key_is_the_route_and_the_service_by_default() -> None:
    alert = seed(labels={"site": "dc-a"})
    assert incident_key("tier1-crisis", IncidentKey(), alert, "SEED") == "tier1-crisis:service=SEED"
    by_site = IncidentKey(by=IncidentKeyBy.LABELS, labels=("site",))
    assert incident_key("r", by_site, alert, "SEED") == "r:site=dc-a"
    grouped = IncidentKey(by=IncidentKeyBy.GROUP_KEY)
    am = alert.model_copy(update={"group_key": '{}:{alertname="SeedEmcsDown"}'})
    assert incident_key("r", grouped, am, "SEED") == 'r:group={}:{alertname="SeedEmcsDown"}'
    assert incident_key("r", grouped, alert, "SEED") == "r:service=SEED"  # no groupKey: by service
    explicit = IncidentKey(by=IncidentKeyBy.EXPLICIT)
    assert incident_key("r", explicit, seed(incident_key="emcs"), "SEED") == "r:key=emcs"
    assert incident_key("r", explicit, alert, None) == "r:service=seed"  # falls back


def test_the_first_firing_alert_starts_an_activation() -> None:
    assert firing(None, RULES, NOW).start
    assert firing(facts(activation_id=None), RULES, NOW).outcome == "started"


def test_the_same_alert_again_is_a_duplicate_and_another_joins() -> None:
    assert firing(facts(this_firing=True), RULES, NOW).outcome == "duplicate"
    joined = firing(facts(), RULES, NOW)
    assert (
        joined.outcome == "joined" and joined.activation_id == "a1" and not joined.start and not joined.update
    )


def test_joining_sends_an_update_at_most_once_per_interval_when_the_route_asks() -> None:
    rules = KeyRules(RULES.group_window, None, OnJoin.UPDATE, timedelta(minutes=15), OnResolved.RECORD)
    assert firing(facts(), rules, NOW).update
    assert not firing(facts(last_update_at=NOW - timedelta(minutes=5)), rules, NOW).update
    assert firing(facts(last_update_at=NOW - timedelta(minutes=20)), rules, NOW).update


def test_after_the_grouping_window_with_nothing_firing_a_new_alert_is_a_new_outage() -> None:
    recent = facts(others_firing=0, resolved_at=NOW - timedelta(minutes=10))
    assert firing(recent, RULES, NOW).outcome == "joined"
    stale = facts(others_firing=0, resolved_at=NOW - timedelta(hours=2))
    assert firing(stale, RULES, NOW).outcome == "started"


def test_after_a_person_ended_it_the_key_is_suppressed_until_everything_resolved() -> None:
    ended = facts(activation_active=False, ended_at=NOW - timedelta(minutes=1))
    assert firing(ended, RULES, NOW).outcome == "suppressed"
    assert firing(facts(activation_active=False, this_firing=True, others_firing=0), RULES, NOW).outcome == (
        "suppressed"
    )
    all_resolved = facts(activation_active=False, others_firing=0, ended_at=NOW - timedelta(minutes=1))
    assert firing(all_resolved, RULES, NOW).outcome == "started"


def test_a_quiet_period_ends_the_suppression() -> None:
    rules = KeyRules(
        RULES.group_window, timedelta(minutes=30), OnJoin.RECORD, RULES.update_interval, OnResolved.RECORD
    )
    assert firing(
        facts(activation_active=False, ended_at=NOW - timedelta(minutes=10)), rules, NOW
    ).outcome == ("suppressed")
    assert firing(facts(activation_active=False, ended_at=NOW - timedelta(minutes=40)), rules, NOW).start


def test_the_last_resolve_applies_the_routes_on_resolved() -> None:
    assert resolved(facts(this_firing=True, others_firing=1), RULES).apply is None
    last = resolved(facts(this_firing=True, others_firing=0), RULES)
    assert last.outcome == "resolved" and last.apply is OnResolved.ANNOUNCE
    assert resolved(facts(this_firing=True, others_firing=0, activation_active=False), RULES).apply is None
    stray = resolved(facts(this_firing=False), RULES)
    assert stray.apply is None and "nothing to change" in stray.detail


def test_a_source_acknowledgement_is_recorded_never_a_persons() -> None:
    assert acknowledged(facts(this_firing=True)).outcome == "acknowledged"
    assert "dropped" in acknowledged(None).detail


def test_the_webhook_parsers_keep_the_group_key() -> None:
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="SeedEmcsDown"}',
        "status": "firing",
        "alerts": [{"labels": {"service": "SEED"}, "startsAt": "2026-03-02T07:15:00Z"}],
    }
    (alert,) = parse_alertmanager(body, received_at=NOW)
    assert alert.group_key == '{}:{alertname="SeedEmcsDown"}'
