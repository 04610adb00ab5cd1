"""Alert payload parsers: real Alertmanager v4 and Grafana bodies, and every error with its path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.domain.alerts import (
    PayloadError,
    parse_alertmanager,
    parse_grafana,
    parse_native,
    parse_webhook,
)

from .payloads import alertmanager_seed_down, grafana_eos_high

NOW = datetime(2026, 3, 2, 7, 16, tzinfo=UTC)


def test_alertmanager_v4_alerts_keep_status_labels_and_dedup_key() -> None:
    alerts = parse_alertmanager(alertmanager_seed_down(), received_at=NOW)

    seed, taric = alerts
    assert seed.source == "alertmanager"
    assert seed.status == "firing"
    assert seed.service == "SEED" and seed.severity == "critical"
    assert seed.labels["env"] == "production"  # commonLabels apply to every alert
    assert seed.ends_at is None  # 0001-01-01T00:00:00Z means "still firing"
    assert seed.starts_at == datetime(2026, 3, 2, 7, 15, 30, 123456, tzinfo=UTC)
    assert seed.dedup_key == "c6c9e6a2f0b5d7e1@2026-03-02T07:15:30.123456+00:00"
    assert seed.summary == "SEED EMCS core not answering"
    assert seed.received_at == NOW
    assert taric.status == "resolved"
    assert taric.ends_at == datetime(2026, 3, 2, 7, 10, tzinfo=UTC)


def test_same_fingerprint_refired_later_is_a_new_alert() -> None:
    first = parse_alertmanager(alertmanager_seed_down(), received_at=NOW)[0]
    payload = alertmanager_seed_down()
    payload["alerts"][0]["startsAt"] = "2026-03-02T09:00:00Z"
    again = parse_alertmanager(payload, received_at=NOW)[0]
    assert first.fingerprint == again.fingerprint
    assert first.dedup_key != again.dedup_key


def test_grafana_payload_converts_offset_times_to_utc() -> None:
    (eos,) = parse_grafana(grafana_eos_high(), received_at=NOW)
    assert eos.source == "grafana"
    assert eos.service == "eos"
    assert eos.starts_at == datetime(2026, 3, 2, 7, 51, 3, 157076, tzinfo=UTC)
    assert eos.summary == "EOS registration queue above 10000 for 10m"


def test_webhook_dispatch_on_version() -> None:
    assert parse_webhook(grafana_eos_high(), received_at=NOW)[0].source == "grafana"
    assert parse_webhook(alertmanager_seed_down(), received_at=NOW)[0].source == "alertmanager"


def test_wrong_version_names_the_other_format() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(grafana_eos_high(), received_at=NOW)
    assert caught.value.messages() == ["version: expected '4' for alertmanager ('1' is a Grafana webhook)"]


def test_every_problem_is_reported_with_its_json_path() -> None:
    payload = alertmanager_seed_down()
    payload["alerts"][1]["labels"]["service"] = 42
    payload["alerts"][0]["startsAt"] = "yesterday"
    payload["alerts"].append("not an alert")
    payload["alerts"].append({"status": "burning", "labels": {}, "startsAt": "2026-03-02T07:00:00Z"})
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(payload, received_at=NOW)
    assert caught.value.messages() == [
        "alerts[0].startsAt: expected an RFC 3339 timestamp, got 'yesterday'",
        "alerts[1].labels.service: expected a string, got a number",
        "alerts[2]: expected an object, got a string",
        "alerts[3].status: expected 'firing' or 'resolved', got 'burning'",
    ]


def test_missing_alerts_and_non_object_bodies() -> None:
    with pytest.raises(PayloadError, match=r"alerts: expected an array, got null"):
        parse_grafana({"version": "1"}, received_at=NOW)
    with pytest.raises(PayloadError, match=r"expected an object, got an array"):
        parse_alertmanager([], received_at=NOW)


def test_native_alert_defaults_and_derived_dedup_key() -> None:
    body = {"service": "TARIC", "severity": "critical", "summary": "TARIC down", "source": "zabbix"}
    alert = parse_native(body, received_at=NOW)
    assert alert.status == "firing"
    assert alert.starts_at == NOW
    assert alert.labels == {"service": "TARIC", "severity": "critical", "source": "zabbix"}
    assert alert.dedup_key.startswith("native:")
    assert parse_native(body, received_at=NOW).dedup_key == alert.dedup_key
    resolved = parse_native({**body, "status": "resolved"}, received_at=NOW)
    assert resolved.dedup_key == alert.dedup_key and resolved.ends_at == NOW


def test_native_alert_explicit_key_and_errors() -> None:
    alert = parse_native(
        {
            "service": "EOS",
            "severity": "major",
            "summary": "EOS slow",
            "dedup_key": "eos-1",
            "labels": {"dc": "a"},
        },
        received_at=NOW,
    )
    assert alert.dedup_key == "eos-1" and alert.labels["dc"] == "a"
    with pytest.raises(PayloadError) as caught:
        parse_native({"severity": 3, "summary": "", "labels": {"x": 1}, "colour": "red"}, received_at=NOW)
    assert caught.value.messages() == [
        "colour: unknown field (expected one of annotations, dedup_key, description, incident_key, labels,"
        " service, severity, source, starts_at, status, summary)",
        "service: is required",
        "severity: expected a string, got a number",
        "summary: must not be empty",
        "labels.x: expected a string, got a number",
    ]


def test_timestamp_out_of_range_is_a_payload_error_not_a_crash() -> None:
    payload = alertmanager_seed_down()
    payload["alerts"][0]["startsAt"] = "0001-01-01T00:00:00+01:00"
    with pytest.raises(PayloadError, match=r"alerts\[0\]\.startsAt: expected an RFC 3339 timestamp"):
        parse_alertmanager(payload, received_at=NOW)
