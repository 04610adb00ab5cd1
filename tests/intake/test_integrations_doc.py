"""docs/integrations.md is run, not just shown: every block marked `<!-- example: NAME -->` is taken
out of the page and run against the daemon (curl, mosquitto_pub), a real Alertmanager (its two
configurations, with only the timings shortened) or posted as the request Grafana sends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from bench.mosquitto import Broker
from notifier.api.tokens import Role, TokenStore
from notifier.engine.contract import AlertFilter
from notifier.runtime import Runtime
from notifier.store.engine_tables import alerts
from notifier.store.integration_keys import IntegrationKeys
from tests.api_e2e.test_alertmanager import ALERTMANAGER
from tests.engine.conftest import ROOT, free_port, running_system
from tests.intake.conftest import listen
from tests.waiting import until

DOC = ROOT / "docs" / "integrations.md"
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```(\w+)\n(.*?)```", re.S)
PLACEHOLDER_URL = "http://notifier.example.org:8080"


def examples() -> dict[str, tuple[str, str]]:
    found = {name: (lang, body) for name, lang, body in EXAMPLE.findall(DOC.read_text())}
    assert found, "docs/integrations.md has no examples"
    return found


class Doc:
    def __init__(self, runtime: Runtime, token: str, routing_key: str) -> None:
        self.runtime, self.token, self.routing_key = runtime, token, routing_key
        self.base = f"http://127.0.0.1:{runtime.settings.http_port}"

    def text(self, name: str) -> str:
        """The example with the placeholders filled in (shell variables stay for bash to expand)."""
        lang, body = examples()[name]
        body = body.replace(PLACEHOLDER_URL, self.base)
        if lang != "bash":
            body = body.replace("$TOKEN", self.token).replace("$ROUTING_KEY", self.routing_key)
        return body

    def bash(self, name: str, **replace: str) -> str:
        script = self.text(name)
        for old, new in replace.items():
            script = script.replace(old, new)
        env = {**os.environ, "TOKEN": self.token, "ROUTING_KEY": self.routing_key}
        done = subprocess.run(["bash", "-euc", script], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    async def outcomes(self, source: str) -> list[str]:
        assert self.runtime.db is not None
        async with self.runtime.db.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.outcome).where(alerts.c.source == source).order_by(alerts.c.id)
            )
            return [o for (o,) in rows]


async def _doc(runtime: Runtime) -> Doc:
    assert runtime.db is not None
    _r, token = await TokenStore(runtime.db).create("doc-examples", Role.INTEGRATION)
    _r, key = await IntegrationKeys(runtime.db).create("doc-examples-pd", route="tier1-crisis")
    return Doc(runtime, token, key)


@pytest.fixture
async def doc(tmp_path: Path) -> AsyncIterator[Doc]:
    async with running_system(tmp_path, scale=1.0) as runtime:
        yield await _doc(runtime)


def test_every_example_is_run_by_a_test() -> None:
    run_here = {
        "curl-native",
        "curl-native-resolve",
        "curl-pagerduty",
        "grafana-webhook",
        "grafana-pagerduty",
        "alertmanager-webhook",
        "alertmanager-pagerduty",
        "mosquitto-pub",
    }
    assert set(examples()) == run_here


async def test_curl_examples(doc: Doc) -> None:
    started = json.loads(await asyncio.to_thread(doc.bash, "curl-native"))
    assert started["receipts"][0]["status"] == "started"
    resolved = json.loads(await asyncio.to_thread(doc.bash, "curl-native-resolve"))
    assert resolved["receipts"][0]["status"] == "resolved"
    answer = json.loads(await asyncio.to_thread(doc.bash, "curl-pagerduty"))
    assert answer == {"status": "success", "message": "Event processed", "dedup_key": "seed-emcs-core"}
    assert await doc.outcomes("native") == ["started", "resolved"]
    assert await doc.outcomes("pagerduty") == ["joined"]  # the same outage (route + SEED), still open


async def test_grafana_examples(doc: Doc) -> None:
    async with httpx.AsyncClient(base_url=doc.base, timeout=30) as client:
        webhook = await client.post(
            "/api/v1/integrations/grafana",
            content=doc.text("grafana-webhook"),
            headers={"Authorization": f"Bearer {doc.token}", "Content-Type": "application/json"},
        )
        assert webhook.status_code == 202, webhook.text
        assert webhook.json()["receipts"][0]["status"] == "started"
        event = await client.post(
            "/v2/enqueue", content=doc.text("grafana-pagerduty"), headers={"Content-Type": "application/json"}
        )
        assert event.status_code == 202, event.text
    assert await doc.outcomes("grafana") == ["started"]
    assert await doc.outcomes("pagerduty") == ["joined"]


def _alertmanager(tmp_path: Path, config_text: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real Alertmanager on the example's configuration; only the group timings are shortened."""
    if not Path(ALERTMANAGER).exists():
        pytest.fail("Prometheus Alertmanager is missing: apt-get install prometheus-alertmanager")
    config: dict[str, Any] = yaml.safe_load(config_text)
    config["route"].update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={path}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=(tmp_path / "alertmanager.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


@pytest.mark.slow  # a real Alertmanager process; part of CI
@pytest.mark.parametrize(
    ("example", "source"), [("alertmanager-webhook", "alertmanager"), ("alertmanager-pagerduty", "pagerduty")]
)
async def test_alertmanager_examples(doc: Doc, tmp_path: Path, example: str, source: str) -> None:
    proc, am = _alertmanager(tmp_path, doc.text(example))
    alert = {
        "labels": {"alertname": "SeedEmcsDown", "service": "SEED", "severity": "critical"},
        "annotations": {"summary": "SEED EMCS core unavailable"},
    }
    try:
        async with httpx.AsyncClient(base_url=am, timeout=5) as client:

            async def posted() -> bool:
                try:
                    return (await client.post("/api/v2/alerts", json=[alert])).status_code == 200
                except httpx.TransportError:
                    return False

            await until(posted, "Alertmanager to accept the alert")

            async def stored() -> list[str]:
                return await doc.outcomes(source)

            assert await until(stored, f"the alert through {example}", 30) == ["started"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_mosquitto_pub_example(tmp_path: Path) -> None:
    directory = tmp_path / "broker"
    directory.mkdir()
    broker = Broker(directory)
    broker.start()
    try:
        mqtt = {"enabled": True, "port": broker.port, "prefix": "notifier", "client_id": "notifier-doc"}
        async with running_system(tmp_path / "daemon", scale=1.0, mqtt=mqtt) as runtime:
            doc = await _doc(runtime)
            await until(lambda: _connected(runtime), "the daemon to connect to the broker")
            async with listen(broker.port, "notifier/events/#") as events:
                await asyncio.to_thread(doc.bash, "mosquitto-pub", **{"-p 1883": f"-p {broker.port}"})

                async def stored() -> list[str]:
                    return await doc.outcomes("mqtt")

                assert await until(stored, "the published alert", 20) == ["started"]
                # the alert's outcome is published, on its own topic and on its activation's
                (event,) = [json.loads(p) for p in await events.wait("notifier/events/alerts")]
                assert event["outcome"] == "started" and event["source"] == "mqtt"
                topic = f"notifier/events/activations/{event['activation_id']}"

                async def alert_on_activation() -> bool:
                    return any(json.loads(p).get("event") == "alert" for p in events.on(topic))

                await until(alert_on_activation, "the alert event on the activation's topic", 15)
            # a payload that cannot be an alert is set aside and counted
            bad = ["-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", "notifier/alerts/x", "-m", "{"]
            await asyncio.to_thread(subprocess.run, ["mosquitto_pub", *bad], check=True, timeout=30)

            async def dead_letter_counted() -> bool:
                async with httpx.AsyncClient(base_url=doc.base, timeout=10) as client:
                    return "notifier_mqtt_dead_letters_total 1.0" in (await client.get("/metrics")).text

            await until(dead_letter_counted, "the dead letter in /metrics", 20)

            async def listed() -> list[Any]:
                assert runtime.service is not None
                found = await runtime.service.list_alerts(AlertFilter(source="mqtt"))
                return found if len(found) == 2 else []

            rejected = await until(listed, "the dead letter listed as a rejected alert", 20)
            assert [a.outcome for a in rejected] == ["rejected", "started"]
            assert rejected[0].detail.startswith("set aside (dead letter): ")
    finally:
        broker.stop()


async def _connected(runtime: Runtime) -> bool:
    return bool(runtime.mqtt is not None and runtime.mqtt.connected)
