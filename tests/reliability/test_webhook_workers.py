"""Issue 19: Twilio webhooks taken by worker processes, applied by the engine from their spool.

Real processes: `notifier serve` with two webhook workers (`webhooks.workers: 2`) on their own
port, the sandbox posting every status callback and persona reply there. The acceptance trial
kills one worker with SIGKILL while callbacks and replies stream through it (its group commits are
in flight): every webhook answered 200 must be applied, none twice, the daemon starts the worker
again, and the replies replayed afterwards (a provider retry, our spool after a crash) change
nothing. A second trial kills the engine (the daemon) while a standalone worker keeps spooling:
the replies it takes meanwhile are answered without the engine and applied by the next daemon.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from notifier.sandbox import preset
from notifier.sandbox.signing import SIGNATURE_HEADER, sign
from notifier.store.db import make_engine
from notifier.store.engine_tables import responses, webhook_receipts
from tests.engine.conftest import free_port
from tests.reliability.harness import (
    AUTH_TOKEN,
    Cluster,
    SandboxThread,
    http,
    numbers_for,
    wait_for,
    write_tree,
)
from tests.reliability.test_store_faults import OwnPostgres, own_postgres  # noqa: F401 (fixture)

PEOPLE = 150


def _query(database_url: str, statement: Any) -> list[Any]:
    async def read() -> list[Any]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(statement))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _reply_rows(database_url: str) -> Counter[str]:
    """Stored replies per provider message id (each must be there once)."""
    rows = _query(
        database_url, select(responses.c.provider_id, func.count()).group_by(responses.c.provider_id)
    )
    return Counter({str(sid): int(count) for sid, count in rows})


def _receipts(database_url: str) -> set[tuple[str, str]]:
    rows = _query(database_url, select(webhook_receipts.c.provider_sid, webhook_receipts.c.status))
    return {(str(sid), str(status)) for sid, status in rows}


def _post(url: str, params: dict[str, str]) -> tuple[int, str]:
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={SIGNATURE_HEADER: sign(AUTH_TOKEN, url, params)}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _workers(state: Path) -> dict[str, int]:
    """Live workers by name, from their answer sockets (`w<index>-<pid>.sock`)."""
    found: dict[str, int] = {}
    for sock in state.glob("webhooks-*/w*-*.sock"):
        name, _, pid = sock.stem.partition("-")
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            continue
        found[name] = int(pid)
    return found


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """The daemons' state directory at a short path of its own: a worker's unix socket path must fit
    in 107 bytes, which a deep `tmp_path` (pytest-xdist adds a level, macOS's TMPDIR is long) may
    not leave room for; the daemon would then fall back to polling, which these tests do not test."""
    path = Path(tempfile.mkdtemp(prefix="notifier-state-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _cluster(
    tmp_path: Path,
    numbers: list[str],
    hooks: int,
    workers: int,
    state_dir: Path,
    database_url: str | None = None,
) -> Cluster:
    config = tmp_path / "cfg"
    config.mkdir()
    write_tree(config, numbers, "[{kind: sms, wait: 30m}]")
    sandbox = SandboxThread()
    return Cluster(
        tmp_path,
        config,
        database_url or f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        sandbox,
        extra_env={
            "NOTIFIER_WEBHOOKS__WORKERS": str(workers),
            "NOTIFIER_WEBHOOKS__PORT": str(hooks),
            "NOTIFIER_WEBHOOKS__PUBLIC_BASE_URL": f"http://127.0.0.1:{hooks}",
            "NOTIFIER_STATE_DIR": str(state_dir),
        },
    )


def _answered(cluster: Cluster, start: int = 0) -> list[Any]:
    """Inbound replies the workers answered 200, from `start` in the sandbox's list."""
    return [i for i in list(cluster.sandbox.box.inbound)[start:] if i.callback.status == 200]


def _status_callbacks_answered(cluster: Cluster) -> set[tuple[str, str]]:
    return {
        (str(c.params["MessageSid"]), str(c.params["MessageStatus"]))
        for m in list(cluster.sandbox.box.messages)
        for c in list(m.callbacks)
        if c.status == 200
    }


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, state_dir: Path
) -> None:
    numbers = numbers_for(PEOPLE)
    hooks = free_port()
    cluster = _cluster(tmp_path, numbers, hooks, workers=2, state_dir=state_dir)
    sandbox = cluster.sandbox
    sandbox.personas(*(preset("confirms", n, reply_after=0.2) for n in numbers))
    state = state_dir
    try:
        (token,) = cluster.prepare("coordinator")
        daemon = cluster.start_daemon("a")
        sandbox.box.inbound_sms_url = f"http://127.0.0.1:{hooks}/webhooks/twilio/sms"  # the workers'
        workers = wait_for(lambda: len(_workers(state)) == 2 and _workers(state), 30, "two webhook workers")
        status, started = http(
            "POST",
            f"{daemon.base}/api/v1/activations",
            token,
            {"tree": "bulk", "fields": {"nature": "Trial"}},
        )
        assert status in (200, 201), started
        # kill a worker while replies and callbacks stream through it (its batches are in flight)
        wait_for(lambda: len(sandbox.box.inbound) >= PEOPLE // 3, 120, "a third of the replies", 0.005)
        os.kill(workers["w0"], signal.SIGKILL)
        killed_at = len(sandbox.box.inbound)
        restarted = wait_for(
            lambda: _workers(state).get("w0") not in (None, workers["w0"]) and _workers(state),
            30,
            "the daemon to start the killed worker again",
        )
        assert restarted["w1"] == workers["w1"]
        wait_for(
            lambda: (
                len(sandbox.box.inbound) == PEOPLE
                and all(i.callback.status is not None or i.callback.body for i in sandbox.box.inbound)
            ),
            120,
            "every persona's reply to be answered (or refused)",
        )
        answered = _answered(cluster)
        # those in flight at the killed worker are lost (never answered 200); the rest reach a live one
        assert len(answered) >= PEOPLE // 4, "too few replies reached a live worker to judge"

        def applied() -> bool:
            rows = _reply_rows(cluster.database_url)
            return all(rows[i.sid] >= 1 for i in answered)

        wait_for(applied, 60, "every reply answered 200 to be applied")
        rows = _reply_rows(cluster.database_url)
        assert max(rows.values()) == 1, f"a reply applied twice: {[s for s, c in rows.items() if c > 1]}"
        receipts = _receipts(cluster.database_url)
        wait_for(
            lambda: _status_callbacks_answered(cluster) <= _receipts(cluster.database_url),
            60,
            "every status callback answered 200 to be applied",
        )
        # Replay every answered reply (as a provider retry would): acknowledged, applied never again.
        url = f"http://127.0.0.1:{hooks}/webhooks/twilio/sms"
        for inbound in answered[:40]:
            params = {
                "MessageSid": inbound.sid,
                "From": inbound.from_,
                "To": inbound.to,
                "Body": inbound.body,
            }
            assert _post(url, params)[0] == 200
        time.sleep(1.0)
        assert _reply_rows(cluster.database_url) == rows
        receipts = _receipts(cluster.database_url)
        assert {(i.sid, "received") for i in answered} <= receipts
        log = daemon.log.read_text()
        assert "webhook worker ended; starting it again" in log, log[-2000:]
        assert killed_at < PEOPLE, "the worker was killed after the last reply: nothing was in flight"
        # applied segments are removed; what stays is the live workers' current ones
        wait_for(
            lambda: len(list(state.glob("webhooks-*/*.spool"))) <= 2,
            30,
            "applied spool segments to be removed",
        )
    finally:
        cluster.stop()
        sandbox.stop()


def _standalone_worker(cluster: Cluster, hooks: int, port: int) -> subprocess.Popen[bytes]:
    """`python -m notifier.api.webhook_worker 0` with the cluster's settings (its own service)."""
    from notifier.api.webhook_worker import worker_input
    from notifier.settings import Settings

    env = cluster.env(0)
    settings = Settings(
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,  # the daemon whose spool directory it writes to
        twilio={"auth_token": AUTH_TOKEN},
        state_dir=Path(cluster.extra_env["NOTIFIER_STATE_DIR"]),
        webhooks={"port": hooks, "public_base_url": f"http://127.0.0.1:{hooks}", "answer_wait": 3},
        log_format="json",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifier.api.webhook_worker", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={k: v for k, v in env.items() if not k.startswith("NOTIFIER_WEBHOOKS__")},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(worker_input(settings).encode() + b"\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith(b"ready")
    return proc


def test_replies_taken_while_the_engine_restarts_are_applied_once(tmp_path: Path, state_dir: Path) -> None:
    numbers = numbers_for(20)
    hooks = free_port()
    cluster = _cluster(tmp_path, numbers, hooks, workers=0, state_dir=state_dir)  # the worker: own service
    sandbox = cluster.sandbox
    port = free_port()
    worker = _standalone_worker(cluster, hooks, port)
    try:
        (token,) = cluster.prepare("coordinator")
        daemon = cluster.start_daemon("a", port=port)
        sandbox.box.inbound_sms_url = f"http://127.0.0.1:{hooks}/webhooks/twilio/sms"  # the workers'
        status, started = http(
            "POST",
            f"{daemon.base}/api/v1/activations",
            token,
            {"tree": "bulk", "fields": {"nature": "Trial"}},
        )
        assert status in (200, 201), started
        wait_for(lambda: len(sandbox.box.messages) == len(numbers), 60, "every SMS")
        ref = str(started["ref"])
        url = f"http://127.0.0.1:{hooks}/webhooks/twilio/sms"

        def reply(i: int) -> tuple[int, str]:
            params = {"MessageSid": f"SM{i:032d}", "From": numbers[i], "To": "+15005550000", "Body": "1"}
            return _post(url, params)

        # the engine is up: the worker answers with the engine's own words
        code, body = reply(0)
        assert code == 200 and f"Confirmed (ref {ref})" in body, body
        cluster.kill(daemon)
        # the engine is gone: the worker still takes replies, durably, and says what it can
        for i in range(1, 10):
            code, body = reply(i)
            assert code == 200 and "Received. Your answer is being recorded." in body, body
        spare = cluster.start_daemon("a", port=daemon.port)
        sandbox.box.inbound_sms_url = url
        for i in range(10, 20):
            code, body = reply(i)
            assert code == 200 and "Confirmed" in body, body

        def applied() -> bool:
            return set(_reply_rows(cluster.database_url)) >= {f"SM{i:032d}" for i in range(20)}

        wait_for(applied, 60, "every reply to be applied")
        assert max(_reply_rows(cluster.database_url).values()) == 1
        for i in range(0, 20, 3):  # replays, after the restart, change nothing
            assert reply(i)[0] == 200
        time.sleep(0.5)
        assert max(_reply_rows(cluster.database_url).values()) == 1
        _, view = http("GET", f"{spare.base}/api/v1/activations/{started['id']}", token)
        assert view["status"] == "completed", json.dumps(view)[:2000]
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        cluster.stop()
        sandbox.stop()


async def test_twins_in_one_batch_and_replays_in_the_next_are_applied_once(tmp_path: Path) -> None:
    """The engine's side alone (in process): a segment holding every reply twice, then again in a
    later batch, as a provider retry or a re-applied batch after a crash would put them there."""
    from notifier.api.spool_segments import SegmentWriter
    from notifier.api.webhook_spool import encode_entry
    from notifier.clock import RealClock
    from tests.reliability.inprocess import faulty_system

    numbers = numbers_for(6)
    async with faulty_system(tmp_path, numbers, "[{kind: sms, wait: 30m}]") as system:
        runtime = system.runtime
        assert runtime.applier is not None and runtime.db is not None
        assert runtime.applier_task is not None
        runtime.applier_task.cancel()  # this test runs the batches itself
        activation_id = await system.activate()
        await system.sandbox.state.wait_for(lambda: len(system.sandbox.messages) == len(numbers), 30)
        writer = SegmentWriter(runtime.applier.directory, "w9", max_bytes=1_000_000)
        writer.open()

        def reply(i: int) -> bytes:
            params = {"MessageSid": f"SM{i:032d}", "From": numbers[i], "To": "+15005550000", "Body": "yes"}
            return encode_entry("sms", None, params, RealClock().now())

        for i in range(len(numbers)):
            await writer.append(reply(i))
            await writer.append(reply(i))
        assert await runtime.applier.apply_batch() == 2 * len(numbers)
        for i in range(len(numbers)):
            await writer.append(reply(i))
        assert await runtime.applier.apply_batch() == len(numbers)
        writer.close()
        await asyncio.to_thread(runtime.applier.reader.collect)
        view = await system.finished(activation_id, timeout=30)
        assert view.status == "completed"
        rows = await asyncio.to_thread(_reply_rows, runtime.settings.database_url)
        assert rows == Counter({f"SM{i:032d}": 1 for i in range(len(numbers))})
        assert runtime.applier.counts["applied"] == 3 * len(numbers)
        assert not list(runtime.applier.directory.glob("w9-*.spool"))


@pytest.mark.slow
@pytest.mark.postgres
def test_replies_while_the_database_is_down_are_answered_by_the_workers_and_applied(
    tmp_path: Path,
    own_postgres: OwnPostgres,  # noqa: F811 (the fixture imported above)
    state_dir: Path,
) -> None:
    """PostgreSQL crashes after every SMS was delivered; everyone replies "1" through a worker.
    Each reply is answered 200 at once with what can be said without the store (the engine's batch
    fails and answers its waiting worker), and applied once the database is back."""
    from notifier.sandbox import messaging

    numbers = numbers_for(10)
    hooks = free_port()
    url = own_postgres.create_database("workers")
    cluster = _cluster(tmp_path, numbers, hooks, workers=1, state_dir=state_dir, database_url=url)
    sandbox = cluster.sandbox
    try:
        (token,) = cluster.prepare("coordinator")
        daemon = cluster.start_daemon("a")
        box = sandbox.box
        box.inbound_sms_url = f"http://127.0.0.1:{hooks}/webhooks/twilio/sms"
        status, started = http(
            "POST",
            f"{daemon.base}/api/v1/activations",
            token,
            {"tree": "bulk", "fields": {"nature": "Trial"}},
        )
        assert status in (200, 201), started
        wait_for(
            lambda: len(box.messages) == len(numbers) and all(m.status == "delivered" for m in box.messages),
            30,
            "every SMS to be delivered",
        )
        wait_for(
            lambda: _status_callbacks_answered(cluster) <= _receipts(url),
            30,
            "the delivery callbacks applied",
        )
        own_postgres.crash()
        answers = []
        for message in list(box.messages):
            t0 = time.monotonic()
            inbound = sandbox.call(lambda m=message: messaging.send_inbound(box.state, m.to, m.from_, "1"))
            answers.append((inbound.callback, time.monotonic() - t0))
        assert all(a.status == 200 and "Received" in a.body for a, _ in answers), answers[0]
        assert max(seconds for _, seconds in answers) < 4, (
            "the worker waited for an engine that could not answer"
        )
        time.sleep(2)
        own_postgres.start()

        def finished() -> bool:
            code, view = http("GET", f"{daemon.base}/api/v1/activations/{started['id']}", token)
            return code == 200 and view["status"] != "open"

        wait_for(finished, 60, "the spooled replies to complete the activation")
        _, view = http("GET", f"{daemon.base}/api/v1/activations/{started['id']}", token)
        assert [p["status"] for node in view["nodes"] for p in node["people"]] == ["acknowledged"] * len(
            numbers
        )
        assert max(_reply_rows(url).values()) == 1
    finally:
        cluster.stop()
        sandbox.stop()
