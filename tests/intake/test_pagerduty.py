"""PagerDuty Events API v2 at `/v2/enqueue`: PagerDuty's answers and semantics, against the whole
daemon in-process (wall-speed clock, the example plan and call trees)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import structlog.testing
from sqlalchemy import select

from notifier.runtime import Runtime
from notifier.store.engine_tables import activity_log, alerts
from notifier.store.integration_keys import IntegrationKeys
from tests.engine.conftest import running_system


class Pd:
    def __init__(self, runtime: Runtime, key: str, other: str) -> None:
        self.runtime, self.key, self.other = runtime, key, other
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.settings.http_port}", timeout=30)

    async def send(self, body: Any, path: str = "/v2/enqueue") -> httpx.Response:
        return await self.client.post(path, json=body)

    def trigger(self, dedup: str | None = "seed-emcs", **payload: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "routing_key": self.key,
            "event_action": "trigger",
            "payload": {
                "summary": "SEED EMCS core unavailable",
                "source": "emcs-probe-1.taxud",
                "severity": "critical",
                "component": "SEED",
                **payload,
            },
        }
        if dedup is not None:
            event["dedup_key"] = dedup
        return event

    async def outcomes(self) -> list[str]:
        assert self.runtime.db is not None
        async with self.runtime.db.connect() as conn:
            rows = await conn.execute(select(alerts.c.outcome).where(alerts.c.source == "pagerduty"))
            return [o for (o,) in rows]


@pytest.fixture
async def pd(tmp_path: Path) -> AsyncIterator[Pd]:
    async with running_system(tmp_path, scale=1.0, pagerduty_events_per_minute=8) as runtime:
        assert runtime.db is not None
        keys = IntegrationKeys(runtime.db)
        _r, key = await keys.create("alertmanager-pd", route="tier1-crisis")
        _r, other = await keys.create("grafana-pd", calltree="taxud-team-leads")
        client = Pd(runtime, key, other)
        try:
            yield client
        finally:
            await client.client.aclose()


async def test_trigger_acknowledge_resolve_as_pagerduty_answers(pd: Pd) -> None:
    response = await pd.send(pd.trigger())
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "seed-emcs"}
    assert len(pd.key) == 32
    again = await pd.send(pd.trigger(), path="/api/v1/integrations/pagerduty")  # the same, on our path
    assert again.status_code == 202
    ack = await pd.send({"routing_key": pd.key, "event_action": "acknowledge", "dedup_key": "seed-emcs"})
    assert ack.status_code == 202
    resolve = await pd.send({"routing_key": pd.key, "event_action": "resolve", "dedup_key": "seed-emcs"})
    assert resolve.status_code == 202
    stray = await pd.send({"routing_key": pd.key, "event_action": "resolve", "dedup_key": "never-sent"})
    assert stray.status_code == 202  # PagerDuty drops it, and so do we (stored, nothing changes)
    assert await pd.outcomes() == ["started", "duplicate", "acknowledged", "resolved", "resolved"]
    assert pd.runtime.service is not None
    (activation,) = await pd.runtime.service.list_activations(None, 10)
    assert activation.tree == "taxud-crisis"  # the key's route, tier1-crisis
    view = await pd.runtime.service.get_activation(activation.id)
    assert view is not None and view.counts.get("people_acknowledged", 0) == 0  # the source's, not a person's
    assert pd.runtime.db is not None
    async with pd.runtime.db.connect() as conn:
        steps = [s for (s,) in await conn.execute(select(activity_log.c.step))]
    assert "alert acknowledged" in steps and "announced" in steps  # tier1-crisis: on_resolved announce


async def test_a_trigger_without_dedup_key_gets_one_and_a_trigger_after_resolve_is_new(pd: Pd) -> None:
    first = (await pd.send(pd.trigger(dedup=None))).json()["dedup_key"]
    second = (await pd.send(pd.trigger(dedup=None))).json()["dedup_key"]
    assert first != second and len(first) == 32
    assert await pd.outcomes() == ["started", "joined"]  # two alerts, one outage (route + service SEED)


async def test_the_same_dedup_key_under_another_routing_key_is_another_alert(pd: Pd) -> None:
    await pd.send(pd.trigger())
    other = {**pd.trigger(), "routing_key": pd.other}
    assert (await pd.send(other)).status_code == 202
    assert await pd.outcomes() == ["started", "started"]  # another key, another tree
    assert pd.runtime.service is not None
    trees = sorted(a.tree for a in await pd.runtime.service.list_activations(None, 10))
    assert trees == ["taxud-crisis", "taxud-team-leads"]


async def test_bad_events_get_400_with_every_error(pd: Pd) -> None:
    bad = {
        "routing_key": pd.key,
        "event_action": "trigger",
        "payload": {"summary": "", "severity": "major", "timestamp": "yesterday"},
    }
    response = await pd.send(bad)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert body["errors"] == [
        "payload.summary: is missing or blank",
        "payload.source: is missing or blank",
        "payload.severity: must be one of critical, error, warning, info",
        "payload.timestamp: must be an ISO 8601 timestamp with a time zone",
    ]
    unknown = await pd.send({**pd.trigger(), "routing_key": "0" * 32})
    assert unknown.status_code == 400 and "routing_key" in unknown.json()["errors"][0]
    not_json = await pd.client.post(
        "/v2/enqueue", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    huge = await pd.send(pd.trigger(custom_details={"blob": "x" * (520 * 1024)}))
    assert huge.status_code == 413
    assert await pd.outcomes() == ["rejected"] * 4  # stored with the reason, nothing half-written


async def test_over_the_rate_is_429(pd: Pd) -> None:
    answers = [(await pd.send(pd.trigger(dedup=f"probe-{i}"))).status_code for i in range(10)]
    assert answers == [202] * 8 + [429] * 2  # pagerduty_events_per_minute: 8 in this test
    assert (await pd.client.post("/v2/change/enqueue", json={"routing_key": pd.key})).status_code == 202


async def test_change_events_need_a_routing_key_of_ours(pd: Pd) -> None:
    """Change events page nobody, but only a known key's are accepted and logged: anyone can post
    here, and a log line per anonymous request would let them grow the log without bound."""
    # the log is read as structlog's events (where an earlier test left its output is irrelevant)
    with structlog.testing.capture_logs() as logged:
        for body in ({}, {"routing_key": "0" * 32}, {"routing_key": 7}, []):
            refused = await pd.client.post("/v2/change/enqueue", json=body)
            assert refused.status_code == 400 and "routing_key" in refused.json()["errors"][0], body
        not_json = await pd.client.post(
            "/v2/change/enqueue", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 400
        accepted = await pd.client.post("/v2/change/enqueue", json={"routing_key": pd.key, "payload": {}})
        assert accepted.status_code == 202
    assert [e["event"] for e in logged] == [  # not a line per refused request
        "pagerduty change event received; nothing to page"
    ]
