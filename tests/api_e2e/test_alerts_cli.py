"""Issue 14 acceptance: unrouted and rejected alerts are logged, counted in /metrics and listed by
`notifier alerts`; refs work wherever an id does (`status`, `cancel`, `page-again`).

Real processes: `notifier serve` on the example plan and call trees, the sandbox, the CLI.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .conftest import Daemon

pytestmark = pytest.mark.slow  # subprocess daemons; part of CI


def post(daemon: Daemon, path: str, token: str, body: Any) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{daemon.http_port}{path}",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_alerts_are_listed_counted_and_logged_and_refs_work(daemon: Daemon) -> None:
    integration = daemon.run("token", "create", "--role", "integration", "--name", "zabbix").strip()
    seed = {
        "service": "SEED",
        "severity": "critical",
        "summary": "SEED EMCS core unavailable",
        "dedup_key": "s1",
    }
    lab = {"service": "TEST-LAB", "severity": "critical", "summary": "lab probe failed", "dedup_key": "lab-1"}
    assert post(daemon, "/api/v1/alerts", integration, seed) == 202
    assert post(daemon, "/api/v1/alerts", integration, lab) == 202
    assert post(daemon, "/api/v1/alerts", integration, {"service": "SEED"}) == 422
    assert post(daemon, "/api/v1/alerts", "nf_not-a-real-token-0000", seed) == 401

    listed = daemon.cli_json("alerts")
    assert isinstance(listed, list)
    assert [a["outcome"] for a in listed] == ["rejected", "rejected", "unrouted", "started"]
    assert "nobody was paged" in listed[2]["detail"]
    ref = listed[3]["ref"]
    table = daemon.cli("alerts", "--outcome", "rejected")
    assert table.returncode == 0 and "HTTP 401" in table.stdout and "HTTP 422" in table.stdout

    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'notifier_alerts_total{outcome="unrouted",source="native"} 1.0' in metrics
    assert 'notifier_alerts_total{outcome="rejected",source="native"} 2.0' in metrics
    log = daemon.logs[-1].read_text()
    rejected = [line for line in log.splitlines() if "alert request rejected" in line]
    assert len(rejected) == 2 and "not-a-real-token" not in log
    assert any("alert unrouted" in line for line in log.splitlines())

    status = daemon.cli("status", ref)  # by its reference code
    assert status.returncode == 0 and "alerts: 1 started; 1 still firing" in status.stdout, status.stdout
    assert daemon.cli("cancel", ref, "--reason", "handled on the bridge").returncode == 0
    assert post(daemon, "/api/v1/alerts", integration, seed) == 202
    assert [a["outcome"] for a in daemon.cli_json("alerts", "--activation", ref)] == ["suppressed", "started"]
    again = daemon.cli("page-again", ref, "--reason", "the outage spread")
    assert again.returncode == 0 and "paged again" in again.stdout, again.stderr
    activations = daemon.cli_json("status")
    assert isinstance(activations, list) and len(activations) == 2
