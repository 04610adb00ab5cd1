"""Broadcast sweep (issue 19): one broadcast of N people by SMS at each size (full run: 1,000,
10,000, 50,000 and 100,000), each in a daemon process of its own (`bench.sweep_probe`) against the
unthrottled sandbox process, on a fresh store. Its 10,000 point is also benchmark 1 (the broadcast
to 10,000): one measurement, reported in both rows.

Figures per point: the daemon's start-up (the plan load of N people), then, from the start call
(`activate`) to the sandbox's arrival of the provider request, the time to the first SMS and to the
last one; peak resident memory of the daemon process (VmHWM: start-up included); how many were sent
and the sending rate; and, for the growth row of benchmark 6, activation time and the time to send
the first messages (as many as the smallest size has).

Start-up and sending have limits of their own, so a slow start-up is reported as such and never
eats the sending time: the first SMS is always "from the start call".

Bounded in time: points up to `complete_upto` (benchmark 1's size) run until every message is sent
(capped at `COMPLETE_CAP_S`); the larger ones share what is left of the run's time budget. Before
each larger point the sweep estimates every point still to run from the points already measured on
the same store (start-up linear in N, the measured sending rate) and keeps, for each larger point
to come, its estimated start-up plus `FIRST_WINDOW_S` (enough for its first SMS and its memory),
then gives this point what it needs to complete, or its share of the rest (points of the same size
share alike, so both stores get the same). A broadcast still sending at its limit is reported as
"did not complete within N s" (of the start call) with how many were sent and at what rate; its peak
RSS is the peak until then. `once` names sizes run on one store only (the last one asked for): the
100,000 point, whose goal is that it completes, gets one store's share of the budget instead of
half of it twice, and is the only point left out (reported as not run) when the budget is spent
before it: the other points always get their start-up and first window, whose figures (the 50,000
point's first SMS and memory) are results.json keys, even if a loaded machine takes the run past
its budget.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import SandboxProcess, Stores, Tree, write_config
from bench.machine import rss_mb

ROOT = Path(__file__).resolve().parents[1]
FIRST_WINDOW_S = 10.0  # sending time any point gets at least: first SMS, memory, a rate
COMPLETE_CAP_S = 240.0  # a point that must complete is still stopped after this long sending
START_CAP_S = 240.0  # the longest start-up any point may take
OVERHEAD_S = 4.0  # per point besides start-up and sending: the probe's interpreter, the store, the sandbox
GRACE_S = 5.0  # past its deadline, a probe that has not answered is stopped from outside
DEFAULT_RATE = 200.0  # msg/s assumed for a store before any of its points was measured
DEFAULT_START_PER_1K_S = 1.0  # start-up seconds per 1,000 people, likewise


@dataclass(frozen=True)
class Todo:
    """A point still to run, with what it is expected to need (from the points measured so far)."""

    contacts: int
    start_s: float  # expected start-up
    send_s: float  # expected seconds from the start call to the last SMS

    @property
    def least(self) -> float:
        return self.start_s + FIRST_WINDOW_S + OVERHEAD_S


def allot(left_s: float, todo: list[Todo]) -> tuple[float, float]:
    """(start-up limit, sending limit) in seconds for todo[0], the smallest point still to run.

    The larger points keep their `least`; the points of this size share the rest alike; this point
    takes no more than it needs to complete (so the rest goes on), and never less than
    `FIRST_WINDOW_S` of sending."""
    this = todo[0]
    keep = sum(t.least for t in todo if t.contacts > this.contacts)
    same = sum(1 for t in todo if t.contacts == this.contacts)
    share = max((left_s - keep) / same, 0.0)
    start = min(START_CAP_S, max(share - FIRST_WINDOW_S - OVERHEAD_S, this.start_s * 2, 10.0))
    send = max(FIRST_WINDOW_S, min(this.send_s * 1.2 + 5.0, share - this.start_s - OVERHEAD_S))
    return start, send


def left_out(point: Todo, once: tuple[int, ...], left_s: float) -> bool:
    """Whether a point is not run: only a one-store point (100,000) when the budget is spent."""
    return point.contacts in once and left_s < point.least / 2


def estimate(contacts: int, measured: list[dict[str, Any]]) -> Todo:
    """What a point of `contacts` should need, from the last point measured on its store."""
    done = [p for p in measured if "start_s" in p and p.get("limit_s", 0) > 0]
    if not done:
        return Todo(contacts, DEFAULT_START_PER_1K_S * contacts / 1000, contacts / DEFAULT_RATE + 1.0)
    last = done[-1]
    start = last["start_s"] * contacts / last["contacts"]  # one point: proportional
    if len(done) > 1 and last["contacts"] > done[-2]["contacts"]:  # two: a fixed part and one per person
        slope = (last["start_s"] - done[-2]["start_s"]) / (last["contacts"] - done[-2]["contacts"])
        start = max(last["start_s"] + slope * (contacts - last["contacts"]), last["start_s"])
    rate = last.get("rate") or DEFAULT_RATE
    first = last.get("first_sms_s", 1.0)
    return Todo(contacts, start, first + contacts / rate)


async def sweep(
    stores: Stores,
    kinds: list[str],
    sizes: tuple[int, ...],
    workdir: Path,
    deadline: float,
    complete_upto: int = 0,
    once: tuple[int, ...] = (),
) -> dict[str, list[dict[str, Any]]]:
    """{store: [point per size, smallest first]}; sizes in order, every store at each size."""
    first = min(sizes)
    points = [(n, kind) for n in sorted(sizes) for kind in (kinds[-1:] if n in once else kinds)]
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for n in once:
        for kind in kinds[:-1]:
            results[kind].append({"contacts": n, "not_run": True, "other_store": kinds[-1]})
    sandbox = SandboxProcess().start()
    try:
        for done, (count, kind) in enumerate(points):
            if count <= complete_upto:
                start_limit, send_limit = START_CAP_S, COMPLETE_CAP_S
            else:
                todo = [estimate(n, results[k]) for n, k in points[done:]]
                start_limit, send_limit = allot(deadline - time.time(), todo)
                if left_out(todo[0], once, deadline - time.time()):
                    results[kind].append({"contacts": count, "not_run": True, "limit_s": 0.0})
                    continue
            await sandbox.reset()
            try:
                point = await _point(stores, kind, count, first, workdir, sandbox, start_limit, send_limit)
            except Exception as exc:  # one point failing is reported; the others still run
                point = {"error": f"{type(exc).__name__}: {exc}"}
            point["contacts"] = count
            print(f"   sweep [{kind}] {count}: {point}", flush=True)
            results[kind].append(point)
    finally:
        sandbox.stop()
    for kind in kinds:
        results[kind].sort(key=lambda p: p["contacts"])
    return results


async def _point(
    stores: Stores,
    kind: str,
    count: int,
    first: int,
    workdir: Path,
    sandbox: SandboxProcess,
    start_limit: float,
    send_limit: float,
) -> dict[str, Any]:
    config = workdir / f"sweep-{count}"
    if not (config / "trees.yaml").is_file():  # the same plan for every store
        write_config(config, count, [Tree("bulk", range(count))])
    url = await stores.new(kind)
    args = [
        str(config),
        url,
        str(sandbox.port),
        str(sandbox.stats_port),
        str(count),
        str(first),
        str(send_limit),
    ]
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.sweep_probe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert probe.stdout is not None and probe.stderr is not None
    lines: list[dict[str, Any]] = []
    err = asyncio.create_task(probe.stderr.read())  # read as it comes: a full pipe would block it

    async def line() -> bool:
        assert probe.stdout is not None
        raw = await probe.stdout.readline()
        while raw and not raw.strip():
            raw = await probe.stdout.readline()
        if raw:
            lines.append(json.loads(raw))
        return bool(raw)

    spawned = time.time()
    try:
        if await asyncio.wait_for(line(), timeout=start_limit + GRACE_S):  # start-up done
            await asyncio.wait_for(line(), timeout=send_limit + 2 * GRACE_S)
            await asyncio.wait_for(probe.wait(), timeout=GRACE_S)
    except TimeoutError:  # start-up or sending held past its limit: stopped from here
        figures = await _stop(probe, lines, sandbox, start_limit, time.time() - spawned)
        await err
        return figures
    stderr = await err
    if probe.returncode != 0 or len(lines) < 2:  # the line at the start call, then the figures
        raise RuntimeError(f"sweep probe failed: {stderr.decode().strip()[-500:]}")
    return _with_rate(lines[-1])


def _with_rate(figures: dict[str, Any]) -> dict[str, Any]:
    """Messages per second from the start call to the last SMS (complete), or to the cut-off."""
    if figures.get("complete") and figures.get("last_sms_s"):
        figures["rate"] = figures["sent"] / figures["last_sms_s"]
    elif figures.get("sent") and figures.get("send_window_s"):
        figures["rate"] = figures["sent"] / figures["send_window_s"]
    return figures


async def _stop(
    probe: asyncio.subprocess.Process,
    lines: list[dict[str, Any]],
    sandbox: SandboxProcess,
    start_limit: float,
    took: float,
) -> dict[str, Any]:
    """The figures of a probe stopped from outside: its peak memory from /proc before the kill,
    what was sent from the sandbox's count."""
    try:
        peak, rss = rss_mb(probe.pid, field="VmHWM"), rss_mb(probe.pid)
    except OSError:  # it ended just now, on its own
        peak = rss = math.nan
    probe.kill()
    await probe.wait()
    span = await sandbox.span()
    figures: dict[str, Any] = {**(lines[0] if lines else {}), "stopped": True, "complete": False}
    figures.update(sent=span["count"], peak_rss_mb=peak, rss_end_mb=rss)
    started_at = figures.pop("started_at", None)
    if started_at is None:  # still starting: the start call was never made
        figures.update(start_limit_s=start_limit, start_s=took, start_done=False, limit_s=0.0)
        return figures
    figures["send_window_s"] = time.time() - started_at
    if span["first"] is not None:
        figures["first_sms_s"] = span["first"] - started_at
    return _with_rate(figures)
