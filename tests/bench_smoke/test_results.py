"""Rules of the benchmark report that need no benchmark run: the capacity knee, the broadcast
sweep's share of the time budget, and bench/results.json (null where a figure was not measured,
never made up; a lower bound said to be one)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import rate, results, sweep, targets
from bench.capacity import knee
from bench.report import Report

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


def test_the_larger_sweep_points_keep_their_start_up_and_a_first_window() -> None:
    todo = [
        sweep.Todo(50_000, 20.0, 200.0),
        sweep.Todo(50_000, 20.0, 200.0),
        sweep.Todo(100_000, 40.0, 400.0),
    ]
    start, send = sweep.allot(200.0, todo)
    # the 100,000 point keeps its start-up and a first window; the two 50,000 points share the rest
    share = (200.0 - (40.0 + sweep.FIRST_WINDOW_S + sweep.OVERHEAD_S)) / 2
    assert (
        send == share - 20.0 - sweep.OVERHEAD_S and start == share - sweep.FIRST_WINDOW_S - sweep.OVERHEAD_S
    )
    # a point that can complete takes what it needs and leaves the rest to the points after it
    assert sweep.allot(1000.0, [sweep.Todo(1000, 1.0, 20.0), *todo])[1] == 20.0 * 1.2 + 5.0
    # never less than a first window of sending, and start-up gets at least twice its estimate
    start, send = sweep.allot(10.0, todo)
    assert send == sweep.FIRST_WINDOW_S and start == 40.0


def test_only_the_one_store_point_is_left_out_when_the_budget_is_spent() -> None:
    fifty, hundred = sweep.Todo(50_000, 15.0, 200.0), sweep.Todo(100_000, 30.0, 400.0)
    # the 50,000 points carry results.json keys: they get their minimum even past the budget
    assert not sweep.left_out(fifty, (100_000,), -60.0)
    assert sweep.left_out(hundred, (100_000,), hundred.least / 2 - 1)
    assert not sweep.left_out(hundred, (100_000,), hundred.least / 2 + 1)


def test_estimates_come_from_the_last_point_of_the_same_store() -> None:
    measured = [{"contacts": 10_000, "start_s": 5.0, "limit_s": 240.0, "rate": 250.0, "first_sms_s": 0.5}]
    todo = sweep.estimate(50_000, measured)
    assert todo.start_s == 25.0 and todo.send_s == 0.5 + 50_000 / 250.0
    assert sweep.estimate(50_000, []).send_s == 50_000 / sweep.DEFAULT_RATE + 1.0
    # with two points, start-up is a fixed part (imports, migrations) plus a part per person
    two = [{"contacts": 1_000, "start_s": 2.0, "limit_s": 240.0}, *measured]
    assert sweep.estimate(50_000, two).start_s == 5.0 + 3.0 / 9_000 * 40_000


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
    cut = {
        "contacts": 50_000,
        "start_s": 20.0,
        "limit_s": 60.0,
        "sent": 12_000,
        "complete": False,
        "peak_rss_mb": 1100.0,
    }
    ten = {"contacts": 10_000, "start_s": 5.0, "complete": True, "sent": 10_000, "rate": 500.0}
    report = report_with(
        broadcast__postgres=ten,
        memory__postgres={"contacts": 10_000, "activations": 100, "rss_live_mb": 236.0},
        sweep__postgres=[ten, cut],
    )
    figures = results.store_results(report, "postgres", "full")
    assert figures["broadcast_10k_msg_per_s"] == 500.0
    assert figures["broadcast_10k_ratio"] == 500.0 / 2500.0  # against the best baseline of the run
    assert figures["rss_10k_100_live_mb"] == 236.0
    # no SMS within its limit: no figure, and a note saying why; start-up is a figure of its own
    assert figures["first_sms_50k_s"] is None and figures["start_50k_s"] == 20.0
    assert any("no SMS within 60 s" in note for note in figures["notes"])
    # the peak until the cut-off is measured, and noted as a lower bound
    assert figures["rss_50k_mb"] == 1100.0
    assert any("lower bound" in note for note in figures["notes"])


def test_a_10k_broadcast_cut_off_has_no_rate_and_says_why() -> None:
    cut = {"contacts": 10_000, "start_s": 5.0, "limit_s": 240.0, "complete": False, "sent": 9_000}
    figures = results.store_results(report_with(broadcast__sqlite=cut), "sqlite", "full")
    assert figures["broadcast_10k_msg_per_s"] is None and figures["broadcast_10k_ratio"] is None
    assert figures["notes"] == [
        "broadcast_10k_msg_per_s: did not complete, 9000 of 10,000 sent within 240 s of the start call"
    ]


def test_a_50k_point_the_budget_did_not_reach_has_no_figures() -> None:
    report = report_with(sweep__sqlite=[{"contacts": 50_000, "not_run": True, "limit_s": 2.0}])
    figures = results.store_results(report, "sqlite", "full")
    assert figures["first_sms_50k_s"] is None and figures["rss_50k_mb"] is None
    assert figures["notes"] == ["50,000: not run, the time budget was spent"]


def test_a_50k_start_up_stopped_at_its_limit_gives_a_lower_bound_and_no_first_sms() -> None:
    stuck = {
        "contacts": 50_000,
        "start_done": False,
        "start_limit_s": 90.0,
        "start_s": 91.0,
        "limit_s": 0.0,
        "sent": 0,
        "complete": False,
        "peak_rss_mb": 700.0,
    }
    figures = results.store_results(report_with(sweep__sqlite=[stuck]), "sqlite", "full")
    assert figures["first_sms_50k_s"] is None and figures["start_50k_s"] is None
    assert figures["rss_50k_mb"] == 700.0
    assert "first_sms_50k_s: start-up did not finish within 90 s" in figures["notes"]


def test_the_sweep_row_reports_start_up_apart_from_the_times_from_the_start_call() -> None:
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
            {"contacts": 100_000, "not_run": True, "other_store": "postgres"},
            # stopped from outside while still starting: no line from it at all
            {
                "contacts": 200_000,
                "start_done": False,
                "start_limit_s": 120.0,
                "start_s": 121.0,
                "limit_s": 0.0,
                "sent": 0,
                "complete": False,
                "peak_rss_mb": 900.0,
            },
        ],
    )
    row = report.rows[0]
    assert (
        "50,000: start-up 18.0 s, then from the start call first SMS 24.0 s, "
        "did not complete within 60 s (12,000 of 50,000 sent)" in row[2]
    )
    assert "100,000: run on postgres only" in row[2]
    assert "200,000: start-up did not finish within its limit of 120 s (peak RSS 900 MB until then)" in row[2]
    assert "first SMS at 50,000 24.0 s" in row[4]


def test_every_target_of_issue_19_is_in_the_table_with_its_goal_and_a_missed_one_gets_its_section(
    tmp_path: Path,
) -> None:
    report = report_with(
        inbound__sqlite={"acks_per_s": 217.0, "bare_per_s": 1500.0},
        inbound__postgres={"acks_per_s": 1200.0, "bare_per_s": 1400.0},
        timers__sqlite={"p99_ms": 8.0},
        timers__postgres={"p99_ms": 9.0},
    )
    report.total_seconds, report.full_run = 500.0, True
    analysis = tmp_path / "analysis.md"
    analysis.write_text(
        "## inbound_acks_per_s: replies\n\nProfile: x. Cause: y. Closes: z.\n\n## history\n\nold\n"
    )
    lines, missed = targets.table(report, ["sqlite", "postgres"], "full")
    text = "\n".join(lines)
    for target in targets.TARGETS:
        assert f"(`{target.key}`) | {target.goal} |" in text, target.key
    acks = next(line for line in lines if "`inbound_acks_per_s`" in line)
    assert "| 217 acks/s | 1200 acks/s |" in acks and "bare receiver: sqlite 1500/s" in acks
    assert acks.endswith("| **missed** on SQLite |")
    assert next(line for line in lines if "`deadline_p99_ms`" in line).endswith("| met |")
    assert next(line for line in lines if "`full_run_s`" in line).endswith("| met |")
    assert "not measured" in next(line for line in lines if "`rss_50k_mb`" in line)
    assert missed == ["inbound_acks_per_s"]
    shown = "\n".join(targets.analysis(analysis, [*missed, "first_sms_50k_s"]))
    assert "### inbound_acks_per_s: replies\n\nProfile: x. Cause: y. Closes: z." in shown
    assert "### first_sms_50k_s" in shown and "Not written yet" in shown  # a missing explanation shows
    assert shown.rstrip().endswith("## history\n\nold")


def test_a_late_send_is_not_an_idle_gap_but_a_pause_in_the_schedule_is() -> None:
    """Benchmark 2 at 100/s: sends scheduled every 10 ms. The recorded runs counted 2-3 "idle gaps"
    of 31-41 ms at exactly 100.0/s: pauses at the provider while the pool's schedule went on (the
    event loop woke late, the late sends left back to back after). Those are late gaps; an idle gap
    is a pause in the schedule itself (the senders given no work)."""
    slots = [i * 0.01 for i in range(300)]
    arrivals = [s + 0.002 for s in slots]
    for i in range(100, 104):  # the loop held for ~30 ms: four sends leave together at 1.033 s
        arrivals[i] = 1.033
    f = rate.figures(100.0, slots, arrivals)
    assert f["idle_gaps"] == 0 and f["late_gaps"] == 1, f
    assert round(f["max_gap_ms"]) == 41 and round(f["late_max_ms"]) == 33, f
    # the dispatcher gave the pool no work for 100 ms: an idle gap, whatever the arrivals show
    idle = [s if i < 150 else s + 0.1 for i, s in enumerate(slots)]
    f = rate.figures(100.0, idle, [s + 0.002 for s in idle])
    assert f["idle_gaps"] == 1 and f["late_gaps"] == 0 and round(f["max_idle_ms"]) == 110, f
