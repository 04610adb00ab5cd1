"""Issue 4 acceptance: schemathesis over the running daemon's `/openapi.json`: no input gets a 5xx.

`tests/api/test_fuzz.py` fuzzes the intake and activation endpoints with hypothesis against an
in-memory engine; this drives every operation of the published schema, with bounded examples,
against a real `notifier serve` (SQLite, engine, sandbox), authenticated as an admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Daemon

pytestmark = pytest.mark.slow  # a daemon subprocess; part of CI


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    procs = Daemon(tmp_path_factory.mktemp("schemathesis"), scale=60)
    try:
        procs.boot()
        procs.token = procs.run("token", "create", "--role", "admin", "--name", "schemathesis").strip()
        yield procs
    finally:
        procs.stop()


def test_no_input_gets_a_server_error(running: Daemon) -> None:
    base_url = f"http://127.0.0.1:{running.http_port}"
    api = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {running.token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10  # alerts, integrations, activations, plan, health

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )

        fuzz()
    assert failures == []
