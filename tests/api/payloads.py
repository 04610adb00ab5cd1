"""Real-shaped webhook bodies: Alertmanager notify/webhook v4 and Grafana webhook v1 examples."""

from __future__ import annotations

from typing import Any


def alertmanager_seed_down() -> dict[str, Any]:
    return {
        "receiver": "notifier",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "SeedCoreDown",
                    "instance": "seed-core-1:9100",
                    "service": "SEED",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "SEED EMCS core not answering",
                    "description": "seed-core-1 has failed its probe for 5 minutes",
                },
                "startsAt": "2026-03-02T07:15:30.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org/graph?g0.expr=up%7Bjob%3D%22seed%22%7D+%3D%3D+0",
                "fingerprint": "c6c9e6a2f0b5d7e1",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "TaricSlow", "service": "TARIC", "severity": "warning"},
                "annotations": {"summary": "TARIC consultation latency above 2s"},
                "startsAt": "2026-03-02T06:00:00Z",
                "endsAt": "2026-03-02T07:10:00Z",
                "generatorURL": "http://prometheus.example.org/graph?g0.expr=taric_latency",
                "fingerprint": "0a1b2c3d4e5f6071",
            },
        ],
        "groupLabels": {"alertname": "SeedCoreDown"},
        "commonLabels": {"env": "production"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "version": "4",
        "groupKey": '{}:{alertname="SeedCoreDown"}',
        "truncatedAlerts": 0,
    }


def grafana_eos_high() -> dict[str, Any]:
    return {
        "receiver": "notifier",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "EOS queue depth", "service": "eos", "severity": "critical"},
                "annotations": {"description": "EOS registration queue above 10000 for 10m"},
                "startsAt": "2026-03-02T09:51:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.org/alerting/1afz29v7z/edit",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://grafana.example.org/alerting/silence/new",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 12044.2, "C": 1},
            }
        ],
        "groupLabels": {},
        "commonLabels": {"alertname": "EOS queue depth"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example.org/",
        "version": "1",
        "groupKey": '{}:{alertname="EOS queue depth"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1]  (EOS queue depth)",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=12044.2",
    }
