"""Issue 8, crash trials: kill -9 at random points during fan-out, escalation and reply handling.

Each trial starts an activation of a small broadcast tree on a real `notifier serve` process, kills
it with SIGKILL after a random delay (which lands in the fan-out, in the wait for replies while
handsets answer, or among the escalation calls), restarts it on the same port and waits for the
activation to finish. Then it compares what every handset received with what it should have:

- every person got the SMS (nothing lost);
- a reply the daemon answered with 2xx is kept: the person is acknowledged, or (the reply came
  after their last wait ran out) it is stored and logged as "recorded; no change";
- every person without an accepted reply got the escalation call (no escalation lost);
- extra messages and calls are at most the in-flight limit for the one crash.

CI runs `TRIALS_SHORT` trials; `pytest -m long tests/reliability` runs `TRIALS_LONG` and writes the
figures to `bench/RELIABILITY.md` (set RELIABILITY_RECORD=1 to record the short run as well).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from notifier.sandbox import preset
from tests.reliability.harness import (
    Cluster,
    SandboxThread,
    http,
    numbers_for,
    person_states,
    wait_for,
    write_tree,
)
from tests.reliability.results import record

TRIALS_SHORT = 10
TRIALS_LONG = 100
MAX_IN_FLIGHT = 3
PEOPLE = 6
CONFIRMING = 3  # the first persons reply "1" to the SMS; the others never answer the phone
SMS_WAIT_S = 2.5
KILL_WINDOW_S = 4.0  # fan-out ~0-0.3 s, replies ~0.6-1.2 s, escalation calls from ~2.5 s


@dataclass
class Outcome:
    delay: float
    phase: str
    lost_sms: int
    lost_escalations: int
    lost_replies: int
    duplicates: int
    restart_seconds: float


def _phase(delay: float) -> str:
    if delay < 0.4:
        return "fan-out"
    if delay < SMS_WAIT_S:
        return "replies"
    return "escalation"


def _trial(cluster: Cluster, token: str, rng: random.Random, numbers: list[str]) -> Outcome:
    sandbox = cluster.sandbox
    sms_mark, call_mark, _, inbound_mark = sandbox.mark()
    daemon = cluster.daemons[-1]
    status, started = http(
        "POST",
        f"{daemon.base}/api/v1/activations",
        token,
        {"tree": "bulk", "kind": "drill", "fields": {"nature": "Crash trial"}},
    )
    assert status == 201 or status == 200, started
    activation_id = started["id"]
    go = cluster.tmp / f"go-{activation_id}"
    spare = cluster.start_daemon("a", port=daemon.port, wait=False, spare=go)
    delay = rng.uniform(0.0, KILL_WINDOW_S)
    time.sleep(delay)
    cluster.kill(daemon)
    t0 = time.monotonic()
    go.touch()
    cluster.wait_healthy(spare)
    restarted = spare
    restart_seconds = time.monotonic() - t0

    def finished() -> dict[str, Any] | None:
        code, view = http("GET", f"{restarted.base}/api/v1/activations/{activation_id}", token)
        return view if code == 200 and view["status"] != "open" else None

    view = wait_for(finished, 60, f"activation {activation_id} to finish after a kill at {delay:.2f} s")
    assert view is not None
    time.sleep(0.3)  # late provider callbacks of the last calls
    states = person_states(view)
    sms = sandbox.sms_to(sms_mark)
    calls = sandbox.calls_to(call_mark)
    accepted = {
        m.from_
        for m in list(sandbox.box.inbound)[inbound_mark:]
        if m.callback.status is not None and 200 <= m.callback.status < 300
    }
    by_number = {n: f"p{i:05d}" for i, n in enumerate(numbers)}
    lost_sms = sum(1 for n in numbers if sms[n] == 0)
    recorded = _recorded_replies(cluster, activation_id)
    # an accepted reply must count, or (when it came after the person's last wait ran out) at least
    # be kept with its outcome in the activity log ("recorded; no change"): never vanish
    lost_replies = sum(
        1 for n in accepted if states[by_number[n]] != "acknowledged" and by_number[n] not in recorded
    )
    lost_escalations = sum(1 for n in numbers if n not in accepted and calls[n] == 0)
    duplicates = sum(c - 1 for c in sms.values() if c > 1) + sum(c - 1 for c in calls.values() if c > 1)
    return Outcome(
        delay, _phase(delay), lost_sms, lost_escalations, lost_replies, duplicates, restart_seconds
    )


def _recorded_replies(cluster: Cluster, activation_id: str) -> set[str]:
    """People of the activation with a stored response (read straight from the SQLite file)."""
    path = cluster.database_url.removeprefix("sqlite+aiosqlite:///")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT person_id FROM responses WHERE activation_id = ?", (activation_id,))
        return {row[0] for row in rows}


def _run_trials(tmp_path: Path, trials: int, seed: int) -> list[Outcome]:
    config = tmp_path / "cfg"
    config.mkdir()
    numbers = numbers_for(PEOPLE)
    write_tree(config, numbers, f"[{{kind: sms, wait: {SMS_WAIT_S}s}}, {{kind: voice, wait: 2s}}]")
    sandbox = SandboxThread()
    sandbox.personas(
        *[preset("confirms", n, reply_after=0.6 + 0.2 * i) for i, n in enumerate(numbers[:CONFIRMING])],
        *[preset("never_answers", n, ring_seconds=0.3) for n in numbers[CONFIRMING:]],
    )
    cluster = Cluster(
        tmp_path,
        config,
        f"sqlite+aiosqlite:///{tmp_path / 'trials.db'}",
        sandbox,
        max_in_flight=MAX_IN_FLIGHT,
    )
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    try:
        (token,) = cluster.prepare("coordinator")
        cluster.start_daemon("a")
        for _ in range(trials):
            outcomes.append(_trial(cluster, token, rng, numbers))
    finally:
        cluster.stop()
        sandbox.stop()
    return outcomes


def _check_and_record(outcomes: list[Outcome], seed: int, label: str) -> None:
    phases = Counter(o.phase for o in outcomes)
    lost = sum(o.lost_sms + o.lost_escalations + o.lost_replies for o in outcomes)
    duplicates = [o.duplicates for o in outcomes]
    restart = sorted(o.restart_seconds for o in outcomes)
    if label == "long" or os.environ.get("RELIABILITY_RECORD"):
        record(
            f"crash trials ({label})",
            {
                "trials": len(outcomes),
                "seed": seed,
                "kills by phase": ", ".join(f"{k} {v}" for k, v in sorted(phases.items())),
                "people per trial": PEOPLE,
                "max in flight": MAX_IN_FLIGHT,
                "lost (SMS, escalations, accepted replies)": lost,
                "duplicates total": sum(duplicates),
                "duplicates max per crash": max(duplicates),
                "kill to /healthz of the restarted daemon, median s": f"{restart[len(restart) // 2]:.2f}",
            },
        )
    bad = [o for o in outcomes if o.lost_sms or o.lost_escalations or o.lost_replies]
    assert not bad, f"seed {seed}: losses in {bad}"
    assert max(duplicates) <= MAX_IN_FLIGHT, f"seed {seed}: duplicates beyond the in-flight limit {outcomes}"


@pytest.mark.slow
def test_crash_trials_short(tmp_path: Path) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    _check_and_record(_run_trials(tmp_path, TRIALS_SHORT, seed), seed, "short")


@pytest.mark.long
def test_crash_trials_long(tmp_path: Path) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    _check_and_record(_run_trials(tmp_path, TRIALS_LONG, seed), seed, "long")
