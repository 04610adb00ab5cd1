"""Reports on every example call tree (config/plan.yaml + calltrees/), answered and unanswered.

The example trees have shapes the SEED script has not: broadcast mode, person nodes, vendors left
out of drills, quorum and business-hours contacts. Every format must render for each of them, and
the counts must add up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import Start
from notifier.domain.planner import initial_state
from notifier.domain.snapshot import Snapshot, compile_snapshot
from notifier.plan.loader import load
from notifier.reports.activity_log import activity_log_csv, activity_rows, after_action_report
from notifier.reports.figures import compute
from notifier.reports.render import plot_curve, to_csv, to_html, to_json, to_markdown
from tests.reports.scenario import T0, Driver, play_quick_drill

ROOT = Path(__file__).resolve().parents[2]
LOADED = load([ROOT / "config", ROOT / "calltrees"])
assert LOADED.plan is not None and LOADED.trees is not None, [p.format() for p in LOADED.errors]
TREES = [tree.id for tree in LOADED.trees.calltrees]


def example(tree_id: str, kind: ActivationKind) -> Snapshot:
    assert LOADED.plan is not None and LOADED.trees is not None
    return compile_snapshot(LOADED.plan, LOADED.trees, tree_id, kind)


@pytest.mark.parametrize("tree_id", TREES)
def test_everyone_answers(tree_id: str) -> None:
    driver = play_quick_drill(example(tree_id, ActivationKind.DRILL), T0, pace=0.05)
    data = compute(driver.record(f"{tree_id}-drill"), driver.log, [])
    counts, rule = data.counts, driver.snap.completion
    if rule.quorum:  # the quorum completes the tree; whoever had not answered yet is stopped
        assert counts.confirmed == rule.quorum and counts.stopped == counts.notified - rule.quorum
        assert {m.outcome for m in data.unreachable} == {"stopped"}
    else:
        assert counts.confirmed == counts.notified > 0 and data.reach_rate == 100.0
        assert data.unreachable == ()
    assert data.verdict == "PASS" and counts.unreachable == 0 and data.findings == ()
    assert json.loads(to_json(data))["counts"]["confirmed"] == data.counts.confirmed
    assert to_markdown(data) and to_csv(data) and to_html(data, png=plot_curve(data))


@pytest.mark.parametrize("tree_id", TREES)
def test_nobody_answers(tree_id: str) -> None:
    snap = example(tree_id, ActivationKind.INCIDENT)
    driver = Driver(snap, state=initial_state(snap, T0))
    driver.step(Start())
    driver.at(24 * 60)  # a day of silence: every policy runs out
    data = compute(driver.record(f"{tree_id}-silent"), driver.log, [])
    counts = data.counts
    assert counts.confirmed == 0 and counts.unreachable == counts.notified > 0
    assert (
        counts.notified
        == counts.confirmed + counts.declined + counts.unreachable + counts.pending + counts.stopped
    )
    assert data.verdict == "FAIL" or data.completion_s is not None  # `all` completes once all are given up on
    assert {m.person_id for m in data.unreachable} == {p.person_id for p in data.people}
    assert all(m.reasons for m in data.unreachable)
    assert data.findings  # every unreachable person leads to an action
    assert activity_log_csv(activity_rows(driver.record(), driver.log)).startswith("step,who,started")
    assert "## 4. Corrective actions" in after_action_report(data)
    assert to_html(data, png=plot_curve(data)).count("<table") >= 5
