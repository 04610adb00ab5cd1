"""Alert intake over HTTP and error answers: field paths, 400/404/409/422/503, never a 500."""

from __future__ import annotations

import httpx
import pytest

from notifier.api.tokens import Role

from .conftest import TokenDb, bearer
from .memory_engine import MemoryEngine
from .payloads import alertmanager_seed_down, grafana_eos_high


@pytest.fixture
def integration(token_db: TokenDb) -> dict[str, str]:
    return bearer(token_db.tokens[Role.INTEGRATION])


@pytest.fixture
def coordinator(token_db: TokenDb) -> dict[str, str]:
    return bearer(token_db.tokens[Role.COORDINATOR])


async def test_alertmanager_alerts_are_routed_and_deduplicated(
    client: httpx.AsyncClient, engine: MemoryEngine, integration: dict[str, str]
) -> None:
    url = "/api/v1/integrations/alertmanager"
    first = await client.post(url, json=alertmanager_seed_down(), headers=integration)
    assert first.status_code == 202
    receipts = first.json()["receipts"]
    assert [r["status"] for r in receipts] == ["started", "resolved"]
    assert receipts[0]["route"] == "tier1-pages"
    retried = await client.post(url, json=alertmanager_seed_down(), headers=integration)
    assert retried.json()["receipts"][0]["status"] == "duplicate"
    assert len(engine.activations) == 1


async def test_native_batch_reports_problems_per_item(
    client: httpx.AsyncClient, engine: MemoryEngine, integration: dict[str, str]
) -> None:
    body = [
        {"service": "SEED", "severity": "critical", "summary": "SEED down"},
        {"service": "EOS", "severity": ["critical"], "summary": "EOS down", "labels": {"dc": 2}},
    ]
    response = await client.post("/api/v1/alerts", json=body, headers=integration)
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid alert payload",
        "problems": [
            "[1].severity: expected a string, got an array",
            "[1].labels.dc: expected a string, got a number",
        ],
    }
    assert engine.calls == []  # nothing of a bad batch is accepted


async def test_grafana_body_on_the_alertmanager_endpoint_says_so(
    client: httpx.AsyncClient, integration: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/integrations/alertmanager", json=grafana_eos_high(), headers=integration
    )
    assert response.status_code == 422
    assert response.json()["problems"] == [
        "version: expected '4' for alertmanager ('1' is a Grafana webhook)"
    ]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
async def test_unparseable_body_is_400(
    client: httpx.AsyncClient, integration: dict[str, str], body: bytes
) -> None:
    headers = {**integration, "Content-Type": "application/json"}
    response = await client.post("/api/v1/integrations/grafana", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid JSON" and response.json()["problems"]


async def test_store_failure_is_503_so_alertmanager_retries(
    client: httpx.AsyncClient, engine: MemoryEngine, integration: dict[str, str]
) -> None:
    engine.store_down = True
    response = await client.post(
        "/api/v1/integrations/alertmanager", json=alertmanager_seed_down(), headers=integration
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"] == {"database": False}
    assert ready.json()["ready"] is False


async def test_invalid_activation_body_lists_field_paths(
    client: httpx.AsyncClient, engine: MemoryEngine, coordinator: dict[str, str]
) -> None:
    body = {"tree": 5, "kind": "exercise", "fields": {"nature": 1}, "started_by": "mallory"}
    response = await client.post("/api/v1/activations", json=body, headers=coordinator)
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert any(p.startswith("tree: ") for p in problems)
    assert any(p.startswith("kind: ") for p in problems)
    assert any(p.startswith("fields.nature: ") for p in problems)
    assert any(p.startswith("started_by: ") for p in problems)  # who started it comes from the token
    assert engine.calls == []


async def test_engine_errors_map_to_statuses(
    client: httpx.AsyncClient, engine: MemoryEngine, coordinator: dict[str, str]
) -> None:
    unknown_tree = await client.post(
        "/api/v1/activations", json={"tree": "no-such-tree"}, headers=coordinator
    )
    assert unknown_tree.status_code == 422 and "no-such-tree" in unknown_tree.json()["error"]
    assert (await client.get("/api/v1/activations/act-404", headers=coordinator)).status_code == 404
    assert (await client.get("/api/v1/activations/act-404/report", headers=coordinator)).status_code == 404
    missing = await client.post("/api/v1/activations/act-404/cancel", json={}, headers=coordinator)
    assert missing.status_code == 404
    started = await client.post("/api/v1/activations", json={"tree": "seed-incident"}, headers=coordinator)
    activation = started.json()["id"]
    assert (
        await client.post(f"/api/v1/activations/{activation}/close", json={}, headers=coordinator)
    ).status_code == 200
    again = await client.post(f"/api/v1/activations/{activation}/cancel", json={}, headers=coordinator)
    assert again.status_code == 409


async def test_query_validation(client: httpx.AsyncClient, coordinator: dict[str, str]) -> None:
    assert (await client.get("/api/v1/activations?limit=0", headers=coordinator)).status_code == 422
    bad_format = await client.get("/api/v1/activations/act-1/report?format=pdf", headers=coordinator)
    assert bad_format.status_code == 422 and bad_format.json()["problems"][0].startswith("query.format")


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/integrations/alertmanager" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert not any(path.startswith("/webhooks") for path in spec["paths"])
