"""The role matrix: every role against every REST endpoint, and what a viewer may see."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from notifier.api.engine_api import StartRequest
from notifier.api.tokens import Role

from .conftest import TokenDb, bearer
from .memory_engine import MemoryEngine
from .payloads import alertmanager_seed_down, grafana_eos_high

A, C, V, INT = Role.ADMIN, Role.COORDINATOR, Role.VIEWER, Role.INTEGRATION
NATIVE = {"service": "TARIC", "severity": "critical", "summary": "TARIC down"}

# (method, path, body, roles allowed, status when allowed); {id} is a started activation.
ENDPOINTS: list[tuple[str, str, Any, set[Role], int]] = [
    ("POST", "/api/v1/alerts", NATIVE, {A, INT}, 202),
    ("POST", "/api/v1/integrations/alertmanager", alertmanager_seed_down(), {A, INT}, 202),
    ("POST", "/api/v1/integrations/grafana", grafana_eos_high(), {A, INT}, 202),
    ("POST", "/api/v1/activations", {"tree": "seed-incident", "reason": "SEED drill"}, {A, C}, 201),
    ("GET", "/api/v1/activations", None, {A, C, V}, 200),
    ("GET", "/api/v1/activations/{id}", None, {A, C, V}, 200),
    ("POST", "/api/v1/activations/{id}/ack", {"person": "p-ana"}, {A, C}, 200),
    ("POST", "/api/v1/activations/{id}/updates", {"text": "SEED failover done"}, {A, C}, 202),
    ("POST", "/api/v1/activations/{id}/cancel", {"reason": "false alarm"}, {A, C}, 200),
    ("POST", "/api/v1/activations/{id}/close", {"message": "SEED restored"}, {A, C}, 200),
    ("GET", "/api/v1/activations/{id}/report?format=md", None, {A, C, V}, 200),
    ("GET", "/api/v1/plan", None, {A, C, V}, 200),
]
CASES = [
    pytest.param(method, path, body, role, allowed, ok, id=f"{role.value}-{method}-{path}")
    for method, path, body, allowed, ok in ENDPOINTS
    for role in Role
]


async def started(engine: MemoryEngine) -> str:
    view = await engine.start_activation(StartRequest(tree_id="seed-incident", started_by="fixture"))
    engine.calls.clear()
    return view.id


@pytest.mark.parametrize(("method", "path", "body", "role", "allowed", "ok"), CASES)
async def test_role_matrix(
    client: httpx.AsyncClient,
    engine: MemoryEngine,
    token_db: TokenDb,
    method: str,
    path: str,
    body: Any,
    role: Role,
    allowed: set[Role],
    ok: int,
) -> None:
    url = path.format(id=await started(engine))
    response = await client.request(method, url, json=body, headers=bearer(token_db.tokens[role]))
    if role in allowed:
        assert response.status_code == ok, response.text
        assert engine.calls, "an allowed request reaches the engine"
    else:
        assert response.status_code == 403, response.text
        assert engine.calls == [], "a refused request never reaches the engine"


@pytest.mark.parametrize(("method", "path", "body"), [(m, p, b) for m, p, b, _, _ in ENDPOINTS])
@pytest.mark.parametrize("auth", ["none", "unknown", "revoked", "basic"])
async def test_without_a_valid_token_is_401(
    client: httpx.AsyncClient,
    engine: MemoryEngine,
    token_db: TokenDb,
    method: str,
    path: str,
    body: Any,
    auth: str,
) -> None:
    headers = {
        "none": {},
        "unknown": bearer("ntk_" + "x" * 43),
        "revoked": bearer(token_db.revoked),
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    }[auth]
    response = await client.request(method, path.format(id=await started(engine)), json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert engine.calls == []


FULL = ("+32471234556", "+32478765412", "ana.coord@example.org")


@pytest.mark.parametrize(
    "path", ["/api/v1/activations/{id}", "/api/v1/activations/{id}/report", "/api/v1/plan"]
)
async def test_viewer_never_sees_a_full_number_or_address(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb, path: str
) -> None:
    url = path.format(id=await started(engine))
    as_viewer = await client.get(url, headers=bearer(token_db.tokens[V]))
    as_coordinator = await client.get(url, headers=bearer(token_db.tokens[C]))
    assert as_viewer.status_code == as_coordinator.status_code == 200
    for secret in FULL:
        assert secret not in as_viewer.text
        assert secret in as_coordinator.text  # the data is there; only the viewer's copy is masked
    assert "+3247*****56" in as_viewer.text
    assert "a***@example.org" in as_viewer.text
    assert "Ana Coordinator" in as_viewer.text


async def test_started_by_comes_from_the_token_not_the_body(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb
) -> None:
    body = {"tree": "seed-incident", "kind": "drill", "fields": {"nature": "quarterly SEED drill"}}
    response = await client.post("/api/v1/activations", json=body, headers=bearer(token_db.tokens[C]))
    assert response.status_code == 201
    (req,) = engine.called("start_activation")[0]
    assert req.started_by == "coordinator-client" and req.kind.value == "drill"
    assert req.fields == {"nature": "quarterly SEED drill"}
