"""`notifier estimate`: the shipped trees timed at the configured (or given) sender rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from notifier.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_PLAN_PATHS", json.dumps([str(REPO / "config" / "plan.yaml")]))
    monkeypatch.setenv("NOTIFIER_CALLTREE_PATHS", json.dumps([str(REPO / "calltrees")]))
    monkeypatch.setenv("NOTIFIER_CONFIG", str(REPO / "no-such-config.yaml"))


def test_every_tree_is_timed_at_the_given_rate() -> None:
    result = runner.invoke(app, ["estimate", "--senders", "1", "--rate", "1", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    by_tree = {row["tree"]: row for row in document["trees"]}
    assert "all-staff" in by_tree
    staff = by_tree["all-staff"]
    # a broadcast's first wave leaves one SMS per second: its queue is the wave's size in seconds
    assert staff["first_contact_s"] == pytest.approx(staff["largest_wave"], abs=1)


def test_a_rate_too_slow_for_the_validity_period_fails() -> None:
    result = runner.invoke(app, ["estimate", "all-staff", "--senders", "1", "--rate", "0.01"])
    assert result.exit_code == 1
    assert "validity period" in result.output and "all-staff" in result.output
