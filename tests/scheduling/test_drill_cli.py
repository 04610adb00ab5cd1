"""`notifier drill schedule`: the next drills from the configuration, in local time and UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from notifier.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFIER_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("NOTIFIER_PLAN_PATHS", json.dumps([str(ROOT / "config" / "plan.yaml")]))


def test_quarterly_drills_listed_at_ten_local_with_heads_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "NOTIFIER_SCHEDULE__DRILLS",
        json.dumps([{"tree": "nist-sample", "announced": True, "announce_before": "PT24H"}]),
    )
    result = runner.invoke(app, ["drill", "schedule", "-n", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 4
    brussels = ZoneInfo("Europe/Brussels")
    now = datetime.now(UTC)
    for row in rows:
        at = datetime.fromisoformat(row["at"])
        assert at > now
        local = at.astimezone(brussels)
        assert (local.day, local.hour, local.minute) == (1, 10, 0) and local.month in (1, 4, 7, 10)
        assert (at - datetime.fromisoformat(row["heads_up"])).total_seconds() == 86400
    assert len({row["at"][:7] for row in rows}) == 4  # four different quarters


def test_a_bad_cron_is_one_line_naming_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SCHEDULE__DRILLS", json.dumps([{"tree": "nist-sample", "cron": "0 10 * *"}]))
    result = runner.invoke(app, ["drill", "schedule"])
    assert result.exit_code == 1
    assert "schedule.drills" in result.output and "5 fields" in result.output
    assert "Traceback" not in result.output


def test_no_drills_configured() -> None:
    result = runner.invoke(app, ["drill", "schedule"])
    assert result.exit_code == 0
    assert "no drills are configured" in result.output
