"""`notifier report` against a SQLite file holding the scripted SEED outage."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import notifier.store.engine_tables  # noqa: F401  (registers the engine's tables on the metadata)
from notifier.cli import app
from notifier.store.db import make_engine
from notifier.store.tables import metadata
from tests.reports.rows import store
from tests.reports.scenario import play_seed_outage, seed_snapshot


async def _populate(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await store(conn, play_seed_outage(seed_snapshot()), "incident-1", "K7Q")
    await engine.dispose()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    asyncio.run(_populate(url))
    monkeypatch.setenv("NOTIFIER_DATABASE_URL", url)
    return url


def test_report_json_to_stdout(db: str) -> None:
    result = CliRunner().invoke(app, ["report", "incident-1", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["counts"]["confirmed"], doc["counts"]["notified"], doc["verdict"]) == (
        12,
        15,
        "PASS WITH EXCEPTIONS",
    )


def test_report_markdown_is_the_default_and_png_goes_to_a_file(db: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "incident-1"])
    assert result.exit_code == 0 and result.stdout.startswith(
        "# Incident report: SEED outage call tree (ref K7Q)"
    )
    target = tmp_path / "curve.png"
    result = CliRunner().invoke(app, ["report", "incident-1", "-f", "png", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_unknown_activation_is_one_line_and_exit_1(db: str) -> None:
    env = {**os.environ, "NOTIFIER_DATABASE_URL": db}
    script = Path(sys.executable).with_name("notifier")  # the installed console script
    done = subprocess.run(
        [str(script), "report", "nope"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: no activation 'nope' in the database at {db}"]


def test_missing_tables_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(app, ["report", "incident-1", "--url", url])
    assert result.exit_code == 1
    assert "no such table" in result.output and "Traceback" not in result.output


def test_bad_format_is_a_usage_error(db: str) -> None:
    assert CliRunner().invoke(app, ["report", "incident-1", "--format", "docx"]).exit_code == 2
