"""Issue 14 acceptance against a real Prometheus Alertmanager: one outage, one activation.

Three alerts of one Alertmanager group start one activation and page each person once; the repeats
every `repeat_interval` page nobody; when they all resolve the route's `on_resolved` (announce, in
the example routes) shows in `status` and the activity log; after a coordinator cancels, the next
repeat is suppressed until every alert has resolved, and only then does a new firing page again.
The same outcomes through Alertmanager's `pagerduty_configs` with `url:` pointed at our PagerDuty
Events API v2 endpoint. The daemon's clock runs at wall speed: no escalation step falls inside the
test, so every page seen was started by an alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notifier.api.tokens import Role, TokenStore
from notifier.runtime import Runtime
from notifier.store.engine_tables import activity_log, alerts, outbox
from notifier.store.integration_keys import IntegrationKeys
from tests.api_e2e.test_alertmanager import alertmanager, rows, webhook_receiver
from tests.engine.conftest import running_system
from tests.waiting import until

pytestmark = pytest.mark.slow  # a real Alertmanager process; part of CI


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_system(tmp_path, scale=1.0) as runtime:
        yield runtime


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Scenario:
    def __init__(self, daemon: Runtime, am: httpx.AsyncClient, source: str, per_notification: int) -> None:
        """`per_notification`: alerts we receive per group notification (the webhook sends each
        alert of the group; PagerDuty's Events API one event for the whole group)."""
        assert daemon.service is not None
        self.daemon, self.am, self.source, self.service = daemon, am, source, daemon.service
        self.each = per_notification
        self.starts = stamp(datetime.now(UTC) - timedelta(minutes=1))

    def alerts(self, *, ended: bool = False) -> list[dict[str, Any]]:
        body = []
        for instance in ("seed-core-1", "seed-core-2", "seed-db-1"):
            alert: dict[str, Any] = {
                "labels": {
                    "alertname": "SeedEmcsDown",
                    "service": "SEED",
                    "severity": "critical",
                    "instance": instance,
                },
                "annotations": {"summary": f"SEED EMCS probe on {instance} failed"},
                "startsAt": self.starts,
            }
            if ended:
                alert["endsAt"] = stamp(datetime.now(UTC) - timedelta(seconds=1))
            body.append(alert)
        return body

    async def post(self, body: list[dict[str, Any]]) -> bool:
        try:
            return (await self.am.post("/api/v2/alerts", json=body)).status_code == 200
        except httpx.TransportError:
            return False

    async def outcomes(self) -> Counter[str]:
        found = await rows(self.daemon, select(alerts.c.outcome).where(alerts.c.source == self.source))
        return Counter(o for (o,) in found)

    async def wait_outcome(
        self, outcome: str, more: int, what: str, since: Counter[str] | None = None
    ) -> None:
        """Until `more` alerts with `outcome` were stored than in `since` (default: now)."""
        at_least = (since if since is not None else await self.outcomes())[outcome] + more

        async def enough() -> bool:
            return (await self.outcomes())[outcome] >= at_least

        await until(enough, what, 40)

    async def pages(self) -> Counter[str]:
        query = select(outbox.c.person_id).where(outbox.c.message_kind == "activation")
        return Counter(p for (p,) in await rows(self.daemon, query))

    async def run(self) -> None:
        service = self.service
        await until(lambda: self.post(self.alerts()), "Alertmanager to accept the alerts")
        started = await until(lambda: service.list_activations(None, 10), "one activation", 40)
        assert [a.tree for a in started] == ["taxud-crisis"]  # route tier1-crisis
        activation = started[0]

        # repeats (repeat_interval 2 s) page nobody
        await self.wait_outcome("duplicate", self.each, "repeated notifications stored as duplicates")
        assert len(await service.list_activations(None, 10)) == 1
        pages = await self.pages()
        assert pages and max(pages.values()) == 1, pages  # one page per person

        # all three resolve: the route's on_resolved (announce) is visible in status and the log
        assert await self.post(self.alerts(ended=True))

        async def resolution() -> str | None:
            view = await service.get_activation(activation.ref)
            return view.resolution if view is not None else None

        shown = await until(resolution, "the resolution on the activation", 40)
        assert "on_resolved announce" in shown

        async def announced() -> bool:  # the update is a step of its own, right after the resolve
            logged = await rows(
                self.daemon,
                select(activity_log.c.step, activity_log.c.outcome).where(
                    activity_log.c.activation_id == activation.id
                ),
            )
            return any(step == "announced" and "update sent to" in text for step, text in logged)

        await until(announced, "the update to the coordinator and those reached", 20)
        view = await service.get_activation(activation.id)
        assert view is not None and view.status == "open" and view.alerts.get("firing") == 0

        # it fires again and a coordinator cancels: the repeats are suppressed, no page
        self.starts = stamp(datetime.now(UTC))
        counted = await self.outcomes()
        assert await self.post(self.alerts())
        await self.wait_outcome(
            "joined", self.each, "the re-fired alerts to join the open activation", counted
        )
        before = await self.pages()
        await service.cancel(activation.id, "duty coordinator", "handled on the bridge")
        await self.wait_outcome("suppressed", self.each + 1, "repeats after the cancel to be suppressed")
        assert len(await service.list_activations(None, 10)) == 1
        assert await self.pages() == before

        # once every alert has resolved, a new firing is a new outage and pages again
        counted = await self.outcomes()
        assert await self.post(self.alerts(ended=True))
        await self.wait_outcome("resolved", self.each, "the alerts to resolve", counted)
        self.starts = stamp(datetime.now(UTC))
        counted = await self.outcomes()
        assert await self.post(self.alerts())
        await self.wait_outcome("started", 1, "a new activation after everything resolved", counted)
        assert len(await service.list_activations(None, 10)) == 2


async def run_scenario(
    daemon: Runtime, tmp_path: Path, source: str, each: int, receiver: Callable[[str], dict[str, Any]]
) -> None:
    port = daemon.settings.http_port
    with alertmanager(tmp_path, "", "", receiver=receiver(f"http://127.0.0.1:{port}")) as am:
        async with httpx.AsyncClient(base_url=am, timeout=5) as client:
            await Scenario(daemon, client, source, each).run()


async def test_webhook_one_outage_one_activation(daemon: Runtime, tmp_path: Path) -> None:
    assert daemon.db is not None
    _record, token = await TokenStore(daemon.db).create("alertmanager", Role.INTEGRATION)
    await run_scenario(
        daemon,
        tmp_path,
        "alertmanager",
        3,
        lambda base: webhook_receiver(f"{base}/api/v1/integrations/alertmanager", token),
    )


def pagerduty_receiver(base: str, routing_key: str) -> dict[str, Any]:
    """Alertmanager's own PagerDuty receiver, its `url` pointed at our Events API v2 endpoint."""
    return {
        "name": "notifier",
        "pagerduty_configs": [
            {
                "routing_key": routing_key,
                "url": f"{base}/v2/enqueue",
                "send_resolved": True,
                "severity": "critical",
                "component": "{{ .CommonLabels.service }}",
            }
        ],
    }


async def test_pagerduty_configs_one_outage_one_activation(daemon: Runtime, tmp_path: Path) -> None:
    assert daemon.db is not None
    _record, key = await IntegrationKeys(daemon.db).create("alertmanager-pd", route="tier1-crisis")
    await run_scenario(daemon, tmp_path, "pagerduty", 1, lambda base: pagerduty_receiver(base, key))
