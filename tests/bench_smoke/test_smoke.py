"""The benchmarks keep running: `python -m bench all --store both --smoke` (tiny sizes) exits 0 and
writes a row for each benchmark on both stores, the two sweep plots beside RESULTS.md (linked from
it), and results.json with every key issue 19 names.

Figures at these sizes mean nothing and are not checked (benchmarks never fail on a slow machine);
this only guards the benchmark code against the product changing under it (it once read a counter
the dispatcher no longer had, and the first full run found out). What is checked is their shape:
results.json's keys and types, and that a figure whose size the smoke run does not reach (10,000,
50,000 contacts) is null rather than made up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench import results

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "1 broadcast",
    "2 sender rate",
    "3 alert -> provider",
    "4 deadlines",
    "5 inbound acks",
    "6 memory",
    "6 growth",
    "7 capacity",
    "8 broadcast sweep",
)
MEASURED_AT_ANY_SIZE = ("activations_per_s_p99_under_50ms", "inbound_acks_per_s", "deadline_p99_ms")
NAMED_SIZES = (
    "first_sms_50k_s",
    "rss_50k_mb",
    "rss_10k_100_live_mb",
    "broadcast_10k_msg_per_s",
    "broadcast_10k_ratio",
)


@pytest.mark.slow
@pytest.mark.postgres
def test_every_benchmark_runs_on_both_stores(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    scratch = Path(tempfile.mkdtemp(prefix="nbs-", dir="/tmp"))  # short: the workers' unix sockets
    scratch.chmod(0o755)  # the PostgreSQL cluster in it runs as the postgres user
    try:
        run = subprocess.run(
            [sys.executable, "-m", "bench", "all", "--store", "both", "--smoke", "--output", str(output)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
        # the run's work directory (plans, SQLite files) is gone with it
        left = [p.name for p in scratch.iterdir() if p.name.startswith("notifier-bench-")]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not left, left
    text = output.read_text()
    assert "could not run" not in text, text
    for store in ("sqlite", "postgres"):
        for row in ROWS:
            assert f"| {row} | {store} |" in text, (row, store, text)
    assert "Machine: " in text and "Baseline (same sandbox process" in text
    for png in ("capacity.png", "broadcast-sweep.png"):
        assert f"]({png})" in text, png
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    for store in ("sqlite", "postgres"):
        assert f"| 8 broadcast sweep | {store} | 20: start-up " in text, text
        assert ", then from the start call first SMS " in text, text
    assert "## Targets of issue 19" in text
    for key in results.KEYS:  # every target beside its goal, once
        assert text.count(f"(`{key}`) |") == 1, key
    _check_results(json.loads((tmp_path / "results.json").read_text()))


def _check_results(results: dict[str, dict[str, object]]) -> None:
    assert set(results) == {"sqlite", "postgres"}
    for store, figures in results.items():
        for key in MEASURED_AT_ANY_SIZE:  # measured in every run, whatever its size
            assert isinstance(figures[key], float), (store, key, figures[key])
        for key in NAMED_SIZES:  # the smoke sizes never reach 10,000 or 50,000 contacts
            assert figures[key] is None, (store, key, figures[key])
        machine, date = figures["machine"], figures["date"]
        assert isinstance(machine, dict) and machine["cores"], (store, machine)
        assert isinstance(date, str) and date.endswith("UTC"), (store, date)
        assert figures["size"] == "smoke"
