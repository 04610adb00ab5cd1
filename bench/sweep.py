"""Broadcast sweep (issue 19): one broadcast of N people by SMS at each size (full run: 1,000,
10,000, 50,000 and 100,000), each in a daemon process of its own (`bench.sweep_probe`) against the
unthrottled sandbox process, on a fresh store.

Figures per point: time to the first SMS and to the last one, both from the start call (`activate`)
to the sandbox's arrival of the provider request; peak resident memory of the daemon process
(VmHWM: start-up, the plan load included); and, for the growth row of benchmark 6, start-up time,
activation time and the time to send the first messages (as many as the smallest size has).

Bounded in time: the sweep runs last, on what is left of the run's time budget. Before each point
it keeps `RESERVE_S` for every point of a larger size still to come and shares the rest among the
points of this size still to run (never less than an equal share of what is left), so what a small
point does not use goes to the larger ones, both stores get the same at each size, and the 50,000
point (whose figures results.json carries) is not starved by the 100,000 one. The limit counts from
the probe's start (the daemon's start-up, the plan load of N people, is part of it). A broadcast
still sending at its limit is reported as "did not complete within N s" (of the start call) with
how many were sent, and its peak RSS as the peak until then; a point left with less than
`MIN_LIMIT_S` is reported as not run.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import SandboxProcess, Stores, Tree, write_config
from bench.machine import rss_mb

ROOT = Path(__file__).resolve().parents[1]
MIN_LIMIT_S = 5.0
RESERVE_S = 30.0
GRACE_S = 5.0  # past its deadline, a probe that has not answered is stopped from outside


async def sweep(
    stores: Stores, kinds: list[str], sizes: tuple[int, ...], workdir: Path, deadline: float
) -> dict[str, list[dict[str, Any]]]:
    """{store: [point per size, smallest first]}; sizes in order, both stores at each size."""
    first = min(sizes)
    points = [(n, kind) for n in sorted(sizes) for kind in kinds]
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    sandbox = SandboxProcess().start()
    try:
        for done, (count, kind) in enumerate(points):
            limit = _limit(deadline - time.time(), [n for n, _ in points[done:]])
            if limit < MIN_LIMIT_S:
                results[kind].append({"contacts": count, "not_run": True, "limit_s": max(0.0, limit)})
                continue
            await sandbox.reset()
            try:
                point = await _point(stores, kind, count, first, workdir, sandbox, time.time() + limit)
            except Exception as exc:  # one point failing is reported; the others still run
                point = {"error": f"{type(exc).__name__}: {exc}"}
            point["contacts"] = count
            print(f"   sweep [{kind}] {count}: {point}", flush=True)
            results[kind].append(point)
    finally:
        sandbox.stop()
    return results


def _limit(left_s: float, sizes: list[int]) -> float:
    """Seconds for the first of `sizes` (the points still to run, smallest first)."""
    larger = sum(1 for n in sizes if n > sizes[0])
    same = sizes.count(sizes[0])
    return max((left_s - RESERVE_S * larger) / same, left_s / len(sizes))


async def _point(
    stores: Stores, kind: str, count: int, first: int, workdir: Path, sandbox: SandboxProcess, deadline: float
) -> dict[str, Any]:
    config = workdir / f"sweep-{count}"
    if not (config / "trees.yaml").is_file():  # the same plan for both stores
        write_config(config, count, [Tree("bulk", range(count))])
    url = await stores.new(kind)
    args = [
        str(config),
        url,
        str(sandbox.port),
        str(sandbox.stats_port),
        str(count),
        str(first),
        str(deadline),
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

    async def read() -> None:
        assert probe.stdout is not None
        async for line in probe.stdout:
            if line.strip():
                lines.append(json.loads(line))
        await probe.wait()

    try:
        await asyncio.wait_for(read(), timeout=deadline - time.time() + GRACE_S)
    except TimeoutError:  # held past its deadline (start-up, or a long step): stopped from here
        figures = await _stop(probe, lines, sandbox)
        await err
        return figures
    stderr = await err
    if probe.returncode != 0 or len(lines) < 2:  # the line at the start call, then the figures
        raise RuntimeError(f"sweep probe failed: {stderr.decode().strip()[-500:]}")
    return lines[-1]


async def _stop(
    probe: asyncio.subprocess.Process, lines: list[dict[str, Any]], sandbox: SandboxProcess
) -> dict[str, Any]:
    """The figures of a probe stopped at its deadline: its peak memory from /proc before the kill,
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
        figures["limit_s"] = 0.0
    elif span["first"] is not None:
        figures["first_sms_s"] = span["first"] - started_at
    return figures
