"""Issue 3 acceptance: crash safety with real processes.

kill -9 the daemon in the middle of a 1,000-contact broadcast and restart it: every contact gets its
message, none is lost, duplicates are at most the in-flight limit. The same with escalation
deadlines pending: they fire after the restart.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from notifier.domain.planner import FIRST_CHUNK, NEXT_CHUNK
from notifier.domain.statedelta import apply_delta
from tests.engine.procs import Processes, write_broadcast_config
from tests.reliability.harness import wait_for

MAX_IN_FLIGHT = 20


def _numbers_reached(procs: Processes) -> Counter[str]:
    return Counter(m["to"] for m in procs.sandbox_json("messages"))


def _start_bulk(procs: Processes, nature: str) -> tuple[str, dict[str, Any]]:
    """A migrated database, a coordinator token, the sandbox and the daemon; an incident on the
    `bulk` tree. Returns the token and the started activation."""
    procs.run("db", "upgrade")
    token = procs.run("token", "create", "--role", "coordinator", "--name", "crash").strip()
    procs.start_sandbox()
    procs.start_daemon()
    body = {"tree": "bulk", "kind": "incident", "fields": {"nature": nature}}
    started: dict[str, Any] = procs.api("POST", "/api/v1/activations", token, body)
    return token, started


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_broadcast_survives_a_crash_mid_fan_out(tmp_path: Path, sig: int) -> None:
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = write_broadcast_config(config, 1000, "[{kind: sms, wait: 30m}]")
    procs = Processes(tmp_path, config, max_in_flight=MAX_IN_FLIGHT)
    try:
        _, started = _start_bulk(procs, "Crash trial")
        assert started["status"] == "open"
        wait_for(lambda: len(_numbers_reached(procs)) >= 150, 120, "150 messages before the crash")
        before = len(_numbers_reached(procs))
        t0 = time.monotonic()
        procs.kill_daemon(sig)
        stopped_in = time.monotonic() - t0
        during = len(_numbers_reached(procs))
        assert during < len(numbers), "the crash came too late to test anything"
        if sig == signal.SIGTERM:
            assert stopped_in < 15, f"SIGTERM took {stopped_in:.1f} s"
        procs.start_daemon()
        wait_for(lambda: len(_numbers_reached(procs)) >= len(numbers), 240, "every contact after restart")
        reached = _numbers_reached(procs)
        assert set(reached) == set(numbers), "a contact never got its message"
        duplicates = sum(count - 1 for count in reached.values())
        assert duplicates <= MAX_IN_FLIGHT, (
            f"{duplicates} duplicates (before crash {before}, during {during})"
        )
        if sig == signal.SIGTERM:
            assert duplicates == 0, "a polite stop drains in-flight sends and duplicates nothing"
    finally:
        procs.stop()


@pytest.mark.slow
def test_pending_deadlines_fire_after_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = write_broadcast_config(config, 5, "[{kind: sms, wait: 4s}, {kind: voice, wait: 4s}]")
    procs = Processes(tmp_path, config)
    try:
        _start_bulk(procs, "Deadline trial")
        wait_for(lambda: len(_numbers_reached(procs)) == len(numbers), 30, "the first SMS to everyone")
        procs.kill_daemon(signal.SIGKILL)
        assert procs.sandbox_json("calls") == []
        time.sleep(5)  # the 4 s acknowledgement waits run out while the daemon is down
        procs.start_daemon()
        calls = wait_for(
            lambda: (c := procs.sandbox_json("calls")) and len({x["to"] for x in c}) == len(numbers) and c,
            30,
            "the escalation calls after restart",
        )
        assert {c["to"] for c in calls} == set(numbers)
    finally:
        procs.stop()


@pytest.mark.slow
def test_an_update_accepted_before_a_kill_9_is_sent_after_the_restart(tmp_path: Path) -> None:
    """The provider is frozen (SIGSTOP) so nothing can leave between the 202 and the kill: after the
    restart, against a fresh provider, everyone reached gets the update from the outbox."""
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = write_broadcast_config(config, 5, "[{kind: sms, wait: 30m}]")
    procs = Processes(tmp_path, config)
    try:
        token, started = _start_bulk(procs, "SEED app node 1 down")
        path = f"/api/v1/activations/{started['id']}"
        wait_for(lambda: procs.api("GET", path, token)["counts"]["reached"] == 5, 30, "5 people reached")
        assert procs.sandbox is not None
        procs.sandbox.send_signal(signal.SIGSTOP)  # nothing can be sent from here on
        receipt = procs.api(
            "POST",
            f"{path}/updates",
            token,
            {"text": "Failover to the secondary site done", "fields": {"outage_estimate": "1 h more"}},
        )
        assert receipt["recipients"] == 5 and receipt["audience"] == "reached"
        procs.kill_daemon(signal.SIGKILL)
        procs.sandbox.kill()  # its frozen sockets may hold requests: a fresh provider takes over
        procs.sandbox.wait(timeout=10)
        procs.start_sandbox()
        assert procs.sandbox_json("messages") == []
        procs.start_daemon()

        def updated() -> set[str]:
            texts = [m for m in procs.sandbox_json("messages") if "Failover to the secondary" in m["body"]]
            return {m["to"] for m in texts} if len({m["to"] for m in texts}) == 5 else set()

        assert wait_for(updated, 60, "the update to everyone reached") == set(numbers)
        body = next(m["body"] for m in procs.sandbox_json("messages"))
        assert "1 h more" in body, body
    finally:
        procs.stop()


def _start_left(database: Path, activation_id: str) -> int:
    """How many nodes the stored state says the start has still to notify (checkpoint + journal)."""
    with sqlite3.connect(database) as db:
        (raw,) = db.execute(
            "SELECT state FROM activation_documents WHERE activation_id = ?", (activation_id,)
        ).fetchone()
        state = json.loads(raw)
        changes = "SELECT delta FROM activation_changes WHERE activation_id = ? ORDER BY seq"
        for (delta,) in db.execute(changes, (activation_id,)):
            apply_delta(state, json.loads(delta))
    return int(state.get("start_left", 0))


@pytest.mark.slow
def test_a_kill_9_mid_start_resumes_at_the_next_chunk(tmp_path: Path) -> None:
    """Issue 19: a large broadcast starts in chunks, one committed step each. kill -9 right after the
    start call answered (the first chunk committed, the rest still being planned): after the
    restart the start goes on from the stored position, and every person gets exactly one SMS
    (duplicates only within the in-flight window)."""
    people = FIRST_CHUNK + 2 * NEXT_CHUNK
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = write_broadcast_config(config, people, "[{kind: sms, wait: 30m}]")
    procs = Processes(tmp_path, config, max_in_flight=MAX_IN_FLIGHT)
    try:
        _, started = _start_bulk(procs, "Chunked start")
        procs.kill_daemon(signal.SIGKILL)
        left = _start_left(tmp_path / "crash.db", started["id"])
        assert 0 < left < people, f"the kill did not come mid-start ({left} of {people} nodes left)"
        procs.start_daemon()
        wait_for(lambda: len(_numbers_reached(procs)) >= people, 240, "every contact after the restart")
        time.sleep(0.5)  # a resend still on its way would show now
        reached = _numbers_reached(procs)
        assert set(reached) == set(numbers), "a contact never got their message"
        duplicates = sum(count - 1 for count in reached.values())
        assert duplicates <= MAX_IN_FLIGHT, f"{duplicates} duplicates after a kill with {left} nodes left"
        assert _start_left(tmp_path / "crash.db", started["id"]) == 0
    finally:
        procs.stop()
