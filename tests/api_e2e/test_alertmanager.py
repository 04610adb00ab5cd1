"""Issue 4 acceptance: a real Prometheus Alertmanager with a webhook receiver pointed at the daemon.

A firing alert for SEED (RTO tier 1) starts the routed call tree; Alertmanager's repeated
notifications of the same alert start nothing new; resolving it is recorded on the activation.
The daemon runs in-process (`Runtime`), Alertmanager as the Debian binary on free ports.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notifier.api.tokens import Role, TokenStore
from notifier.runtime import Runtime
from notifier.store.engine_tables import activity_log, alerts
from tests.engine.conftest import free_port, running_system
from tests.waiting import until

pytestmark = pytest.mark.slow  # a real Alertmanager process; part of CI

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_system(tmp_path, scale=60) as runtime:
        yield runtime


def webhook_receiver(url: str, token: str) -> dict[str, Any]:
    """Alertmanager's webhook receiver pointed at our Alertmanager endpoint."""
    return {
        "name": "notifier",
        "webhook_configs": [
            {
                "url": url,
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
            }
        ],
    }


@contextlib.contextmanager
def alertmanager(
    tmp_path: Path,
    webhook: str,
    token: str,
    receiver: dict[str, Any] | None = None,
    group_by: tuple[str, ...] = ("alertname", "service"),
) -> Iterator[str]:
    """A real Alertmanager on a free port; its receiver is our webhook unless `receiver` is given
    (YAML text of the config is written as JSON, which is YAML)."""
    if not Path(ALERTMANAGER).exists():
        pytest.fail("Prometheus Alertmanager is missing: apt-get install prometheus-alertmanager")
    port = free_port()
    config = {
        "route": {
            "receiver": "notifier",
            "group_by": list(group_by),
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "2s",
        },
        "receivers": [receiver or webhook_receiver(webhook, token)],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def rows(runtime: Runtime, query: Any) -> list[Any]:
    assert runtime.db is not None
    async with runtime.db.connect() as conn:
        return list((await conn.execute(query)).all())


async def test_alertmanager_starts_the_routed_tree_once_and_records_the_resolution(
    daemon: Runtime, tmp_path: Path
) -> None:
    assert daemon.db is not None and daemon.service is not None
    _record, token = await TokenStore(daemon.db).create("alertmanager", Role.INTEGRATION)
    webhook = f"http://127.0.0.1:{daemon.settings.http_port}/api/v1/integrations/alertmanager"
    starts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    alert: dict[str, Any] = {
        "labels": {"alertname": "SeedEmcsCoreDown", "service": "SEED", "severity": "critical"},
        "annotations": {"summary": "SEED EMCS core unavailable", "description": "probe failed 3 times"},
        "startsAt": starts,
    }
    with alertmanager(tmp_path, webhook, token) as am:
        async with httpx.AsyncClient(base_url=am, timeout=5) as client:

            async def post(body: list[dict[str, Any]]) -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await client.post("/api/v2/alerts", json=body)).status_code == 200
                return False

            await until(lambda: post([alert]), "Alertmanager to accept the alert")
            started = await until(
                lambda: daemon.service.list_activations(None, 10), "the webhook to start a tree", 30
            )
            assert [a.tree for a in started] == ["taxud-crisis"]  # route tier1-crisis
            activation_id = started[0].id

            # the same alert again; Alertmanager also repeats its notification every 2 s
            assert await post([alert])

            async def repeated() -> bool:
                found = await rows(daemon, select(alerts.c.outcome).where(alerts.c.source == "alertmanager"))
                return sum(1 for (o,) in found if o == "duplicate") >= 2

            await until(repeated, "repeated notifications to be stored as duplicates", 30)
            assert len(await daemon.service.list_activations(None, 10)) == 1

            ended = {**alert, "endsAt": (datetime.now(UTC) - timedelta(seconds=5)).isoformat()}
            assert await post([ended])

            async def resolved() -> list[Any]:
                return await rows(
                    daemon,
                    select(activity_log.c.outcome).where(
                        (activity_log.c.activation_id == activation_id)
                        & (activity_log.c.step == "alert resolved")
                    ),
                )

            logged = await until(resolved, "the resolution on the activation", 30)
    assert "SEED EMCS core unavailable" in logged[0][0]
    stored = await rows(
        daemon, select(alerts.c.status, alerts.c.activation_id).where(alerts.c.status == "resolved")
    )
    assert stored and all(a == activation_id for _, a in stored)
    assert len(await daemon.service.list_activations(None, 10)) == 1
