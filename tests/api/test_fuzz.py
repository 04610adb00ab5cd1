"""Arbitrary JSON at the intake and activation endpoints: an answer, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.api.tokens import Role
from tests.hostile_strategies import hostile_body

from .conftest import TokenDb, bearer
from .memory_engine import MemoryEngine
from .payloads import alertmanager_seed_down

SEED_NATIVE = {
    "service": "SEED",
    "severity": "critical",
    "summary": "SEED EMCS core unavailable",
    "labels": {"site": "dc-a"},
}

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
)
_timestamps = st.sampled_from(
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "2026-03-02T07:15:30.123456789Z", "2026-13-40", ""]
)


def _mutated_alertmanager(draw: st.DrawFn) -> dict[str, Any]:
    body = alertmanager_seed_down()
    alert = body["alerts"][0]
    key = draw(st.sampled_from(["status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"]))
    alert[key] = draw(_json | _timestamps)
    return body


mutated_alertmanager = st.composite(_mutated_alertmanager)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=_json | mutated_alertmanager())
async def test_alert_endpoints_never_fail_with_500(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb, body: Any
) -> None:
    headers = bearer(token_db.tokens[Role.INTEGRATION])
    for path in ("/api/v1/alerts", "/api/v1/integrations/alertmanager", "/api/v1/integrations/grafana"):
        response = await client.post(path, json=body, headers=headers)
        # json=None sends no body at all: that is "not JSON" (400), not a payload to validate.
        expected = (400,) if body is None else (202, 422)
        assert response.status_code in expected, (path, response.status_code, response.text)
        if response.status_code == 422:
            assert response.json()["problems"]


@FUZZ
@given(body=_json)
async def test_activation_endpoints_never_fail_with_500(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb, body: Any
) -> None:
    headers = bearer(token_db.tokens[Role.ADMIN])
    for path in ("/api/v1/activations", "/api/v1/activations/act-1/ack", "/api/v1/activations/act-1/close"):
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code < 500, (path, response.status_code, response.text)


# --- hostile input (issue 13): deep nesting, huge numbers, long strings and keys, many keys ---------

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_START = {"tree": "seed-incident", "kind": "drill", "reason": "quarterly drill", "fields": {"nature": "SEED"}}


@HOSTILE
@given(body=hostile_body(SEED_NATIVE) | hostile_body(alertmanager_seed_down()))
async def test_hostile_alert_bodies_get_an_answer_never_a_500(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb, body: str
) -> None:
    headers = {**bearer(token_db.tokens[Role.INTEGRATION]), "Content-Type": "application/json"}
    for path in ("/api/v1/alerts", "/api/v1/integrations/alertmanager", "/api/v1/integrations/grafana"):
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code in (202, 400, 413, 422), (path, response.status_code, response.text[:300])
        if response.status_code != 202:  # a receipt repeats the dedup key given; a refusal echoes nothing
            assert response.json()["problems"]
            assert len(response.content) < 20_000  # reasons name the field, they do not echo it


@HOSTILE
@given(body=hostile_body(_START))
async def test_hostile_activation_bodies_get_a_4xx_never_a_500(
    client: httpx.AsyncClient, engine: MemoryEngine, token_db: TokenDb, body: str
) -> None:
    headers = {**bearer(token_db.tokens[Role.ADMIN]), "Content-Type": "application/json"}
    for path in ("/api/v1/activations", "/api/v1/activations/act-1/ack", "/api/v1/activations/act-1/close"):
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
        assert len(response.content) < 20_000
