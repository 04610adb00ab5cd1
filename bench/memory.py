"""Benchmark 6: resident memory of the daemon process with C contacts and A live activations. (How
start-up time, activation time and memory grow with the number of contacts comes from the broadcast
sweep, bench/sweep.py; `growth_exponent` is used by its row.)

The daemon side runs in `bench.memory_probe`, a process of its own, so the figure is not inflated by
the benchmark's own data. Contacts are split evenly over the A trees (each contact in one live
activation, one SMS each, acknowledgement waits of 30 minutes still running).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path

from bench.harness import SandboxProcess, Stores, Tree, write_config

ROOT = Path(__file__).resolve().parents[1]


async def resident(
    stores: Stores, kind: str, contacts: int, activations: int, workdir: Path
) -> dict[str, float]:
    """Figures of the probe process, measured once every message went out."""
    per = max(1, contacts // activations)
    config = workdir / f"memory-{kind}-{contacts}-{activations}"
    write_config(config, contacts, [Tree(f"t{i}", range(i * per, (i + 1) * per)) for i in range(activations)])
    url = await stores.new(kind)
    sandbox = SandboxProcess().start()
    try:
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.memory_probe",
            str(config),
            url,
            str(sandbox.port),
            str(activations),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        out, err = await asyncio.wait_for(probe.communicate(), timeout=900)
    finally:
        sandbox.stop()
    if probe.returncode != 0:
        raise RuntimeError(f"memory probe failed: {err.decode().strip()[-500:]}")
    figures: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    figures["contacts"] = contacts
    figures["activations"] = activations
    return figures


def growth_exponent(points: list[tuple[float, float]]) -> float:
    """Slope of log(y) over log(x) between the smallest and largest point: 1 is linear, 2 quadratic."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    if x1 == x0 or y0 <= 0 or y1 <= 0:
        return float("nan")
    return math.log(y1 / y0) / math.log(x1 / x0)
