"""Issues 4 and 13 acceptance: schemathesis over the running daemon's `/openapi.json`, as an admin and
as a viewer: no input gets a 5xx, and every status answered is documented for its operation.

`tests/api/test_fuzz.py` fuzzes the intake and activation endpoints with hypothesis against an
in-memory engine; this drives every operation of the published schema against a real `notifier
serve` (SQLite, engine, sandbox). Schemathesis' own cases come from the schema, so they stay within
what the schema describes; each operation with a body also gets the hostile bodies of
`tests.hostile_strategies` (deep nesting, huge numbers, long strings and field names, many keys),
which is where issue 13 found its 500s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.hostile_strategies import hostile_body

from .conftest import Daemon

pytestmark = pytest.mark.slow  # a daemon subprocess; part of CI

EXAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/alerts": {"service": "SEED", "severity": "critical", "summary": "SEED EMCS core unavailable"},
    "/api/v1/integrations/alertmanager": {"version": "4", "status": "firing", "alerts": [{"labels": {}}]},
    "/api/v1/integrations/grafana": {"version": "1", "status": "firing", "alerts": [{"labels": {}}]},
    "/api/v1/activations": {"tree": "seed-incident", "kind": "drill", "fields": {"nature": "drill"}},
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    procs = Daemon(tmp_path_factory.mktemp("schemathesis"), scale=60)
    try:
        procs.boot()
        procs.token = procs.run("token", "create", "--role", "admin", "--name", "schemathesis").strip()
        yield procs
    finally:
        procs.stop()


def _documented(operation: Any) -> set[str]:
    return set(operation.definition.raw.get("responses", {}))


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_no_input_gets_a_server_error_or_an_undocumented_status(running: Daemon, role: str) -> None:
    base_url = f"http://127.0.0.1:{running.http_port}"
    token = (
        running.token
        if role == "admin"
        else running.run("token", "create", "--role", "viewer", "--name", "sv").strip()
    )
    api = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10  # alerts, integrations, activations, plan, health

    def check(method: str, path: str, documented: set[str], status: int, text: str) -> None:
        if status >= 500 or str(status) not in documented:
            failures.append(f"{role} {method} {path}: {status} {text[:200]}")

    for operation in operations:
        _fuzz(operation, base_url, headers, check)
        if operation.body:
            _hostile(operation, base_url, headers, check)
    print(json.dumps({"role": role, "operations": len(operations), "failures": len(failures)}))
    assert failures == []


Check = Any  # (method, path, documented statuses, status, text) -> None


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], check: Check) -> None:
    documented = _documented(operation)

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        check(case.method, case.formatted_path, documented, response.status_code, response.text)

    fuzz()


def _hostile(operation: Any, base_url: str, headers: dict[str, str], check: Check) -> None:
    documented = _documented(operation)
    template = EXAMPLE_BODIES.get(operation.path, {"person": "p-001", "reason": "drill", "message": "x"})
    path = operation.path.replace("{activation_id}", "act-unknown")

    @given(body=hostile_body(template))
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def hostile(body: str) -> None:
        response = httpx.post(
            base_url + path, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=30
        )
        check("POST", path, documented, response.status_code, response.text)

    hostile()
