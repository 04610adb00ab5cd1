"""Rules of the benchmark report that need no benchmark run: the capacity knee, the broadcast
sweep's share of the time budget, and bench/results.json (null where a figure was not measured,
never made up; a lower bound said to be one)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import results
from bench.capacity import knee
from bench.report import Report
from bench.sweep import RESERVE_S, _limit

MACHINE = {
    "date": "2026-12-05 01:00 UTC",
    "cores": "2",
    "memory": "23.5 GiB",
    "python": "3.11",
    "platform": "x",
}


def point(rate: float, p99: float, sent: float = 100.0) -> dict[str, float]:
    return {"rate": rate, "alerts": 100.0, "sms": sent, "p50_ms": p99 / 2, "p99_ms": p99, "max_ms": p99}


def test_the_knee_is_the_highest_rate_with_p99_under_50_ms_and_every_sms_sent() -> None:
    assert knee([point(10, 12), point(25, 20), point(50, 49.9), point(100, 50.0)]) == 50
    # a rate whose alerts were not all sent never counts, however fast the ones that were
    assert knee([point(10, 12), point(25, 20, sent=99)]) == 10
    assert knee([point(10, math.inf, sent=80)]) == 0.0


def test_each_sweep_size_keeps_30_s_for_every_larger_point_still_to_come() -> None:
    sizes = [1000, 1000, 10_000, 10_000, 50_000, 50_000, 100_000, 100_000]
    # 300 s left: the two 1,000 points share what the six larger ones do not keep
    assert _limit(300, sizes) == (300 - 6 * RESERVE_S) / 2
    # the last point takes all that is left; the 50,000 points keep 30 s for each 100,000 one
    assert _limit(40, sizes[-1:]) == 40
    assert _limit(160, sizes[4:]) == (160 - 2 * RESERVE_S) / 2
    # never less than an equal share of what is left, even when the reserve would eat it all
    assert _limit(60, sizes) == 60 / 8


def report_with(**figures: Any) -> Report:
    report = Report(MACHINE, quick=False, command="python -m bench all")
    report.baseline({"raw": 2500.0, "sdk": 2000.0}, 10_000)
    for key, value in figures.items():
        name, kind = key.split("__")
        report.figures[(name, kind)] = value
    return report


def test_results_name_a_size_only_when_that_size_was_run(tmp_path: Path) -> None:
    report = report_with(
        broadcast__sqlite={"count": 500, "rate": 400.0},  # a --quick broadcast: not the 10k figure
        memory__sqlite={"contacts": 2000, "activations": 20, "rss_live_mb": 190.0},
        inbound__sqlite={"acks_per_s": 217.0},
        timers__sqlite={"p99_ms": 8.0},
        capacity__sqlite={"knee": 25.0},
    )
    path = tmp_path / "results.json"
    results.write(path, report, "quick")
    data = json.loads(path.read_text())
    sqlite, postgres = data["sqlite"], data["postgres"]
    assert sqlite["broadcast_10k_msg_per_s"] is None and sqlite["broadcast_10k_ratio"] is None
    assert sqlite["rss_10k_100_live_mb"] is None and sqlite["first_sms_50k_s"] is None
    assert (sqlite["inbound_acks_per_s"], sqlite["deadline_p99_ms"]) == (217.0, 8.0)
    assert sqlite["activations_per_s_p99_under_50ms"] == 25.0
    assert all(postgres[key] is None for key in results.KEYS)  # not run at all
    assert postgres["date"] == "2026-12-05 01:00 UTC" and postgres["machine"]["cores"] == "2"


def test_full_size_figures_and_a_cut_off_50k_broadcast() -> None:
    cut = {"contacts": 50_000, "limit_s": 60.0, "sent": 12_000, "complete": False, "peak_rss_mb": 1100.0}
    report = report_with(
        broadcast__postgres={"count": 10_000, "rate": 500.0},
        memory__postgres={"contacts": 10_000, "activations": 100, "rss_live_mb": 236.0},
        sweep__postgres=[cut],
    )
    figures = results.store_results(report, "postgres", "full")
    assert figures["broadcast_10k_msg_per_s"] == 500.0
    assert figures["broadcast_10k_ratio"] == 500.0 / 2500.0  # against the best baseline of the run
    assert figures["rss_10k_100_live_mb"] == 236.0
    # no SMS within its limit: no figure, and a note saying why
    assert figures["first_sms_50k_s"] is None
    assert any("no SMS within 60 s" in note for note in figures["notes"])
    # the peak until the cut-off is measured, and noted as a lower bound
    assert figures["rss_50k_mb"] == 1100.0
    assert any("lower bound" in note for note in figures["notes"])


def test_a_50k_point_the_budget_did_not_reach_has_no_figures() -> None:
    report = report_with(sweep__sqlite=[{"contacts": 50_000, "not_run": True, "limit_s": 2.0}])
    figures = results.store_results(report, "sqlite", "full")
    assert figures["first_sms_50k_s"] is None and figures["rss_50k_mb"] is None
    assert figures["notes"] == ["50,000: not run, the time budget was spent"]


def test_the_sweep_row_says_did_not_complete_within_its_limit() -> None:
    report = Report(MACHINE, quick=False, command="python -m bench all")
    base = {"start_s": 18.0, "rss_start_mb": 600.0, "peak_rss_mb": 1100.0}
    report.add(
        "sweep",
        "sqlite",
        [
            {
                **base,
                "contacts": 50_000,
                "limit_s": 60.0,
                "sent": 12_000,
                "complete": False,
                "first_sms_s": 24.0,
            },
            {**base, "contacts": 100_000, "limit_s": -3.0, "sent": 0, "complete": False},
            # stopped from outside while still starting: no line from it at all
            {"contacts": 200_000, "limit_s": 0.0, "sent": 0, "complete": False, "peak_rss_mb": 900.0},
        ],
    )
    row = report.rows[0]
    assert "50,000: first SMS 24.0 s, did not complete within 60 s (12,000 of 50,000 sent)" in row[2]
    assert "100,000: not started, its daemon's start-up (18 s) used its whole limit" in row[2]
    assert "200,000: not started, its daemon's start-up used its whole limit; peak RSS 900 MB" in row[2]
    assert "first SMS at 50,000 24.0 s" in row[4] and "100,000 did not complete" in row[4]
