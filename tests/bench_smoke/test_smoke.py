"""The benchmarks keep running: `python -m bench all --store both --smoke` (tiny sizes) exits 0 and
writes a row for each of the six benchmarks on both stores.

Figures at these sizes mean nothing and are not checked (benchmarks never fail on a slow machine);
this only guards the benchmark code against the product changing under it (it once read a counter
the dispatcher no longer had, and the first full run found out).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "1 broadcast",
    "2 sender rate",
    "3 alert -> provider",
    "4 deadlines",
    "5 inbound acks",
    "6 memory",
    "6 growth",
)


@pytest.mark.slow
@pytest.mark.postgres
def test_every_benchmark_runs_on_both_stores(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--store", "both", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = output.read_text()
    assert "could not run" not in text, text
    for store in ("sqlite", "postgres"):
        for row in ROWS:
            assert f"| {row} | {store} |" in text, (row, store, text)
    assert "Machine: " in text and "Baseline (same sandbox process" in text
