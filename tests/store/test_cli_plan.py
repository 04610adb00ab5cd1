"""The acceptance scenario through the command line, on a temporary SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from notifier.cli import app
from notifier.domain.plan import Plan

EXAMPLE = Path(__file__).parents[2] / "config" / "plan.yaml"
OLD_SMS = '{kind: sms, address: "+32470990101", label: mobile}'
NEW_SMS = '{kind: sms, address: "+32470990199", label: mobile}'


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'notifier.db'}"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_on_unmigrated_database_is_refused(url: str, tmp_path: Path) -> None:
    code, out, err = run("plan", "import", str(EXAMPLE), "--url", url)
    assert code == 1
    assert err.strip().endswith("has no schema; run: notifier db upgrade")
    assert "Traceback" not in out + err
    code, _, err = run("db", "status", "--url", url)
    assert code == 1 and "run: notifier db upgrade" in err


def test_import_change_number_import_again(url: str, tmp_path: Path) -> None:
    assert OLD_SMS in EXAMPLE.read_text(), "the example plan changed: update this test's number"
    assert run("db", "upgrade", "--url", url)[0] == 0
    assert run("db", "status", "--url", url)[0] == 0

    code, out, err = run(
        "plan", "import", str(EXAMPLE), "--url", url, "--author", "p-verhoeven", "--comment", "v1"
    )
    assert code == 0, err
    assert out.startswith("plan version 1 stored (first version)")

    code, out, _ = run("plan", "import", str(EXAMPLE), "--url", url)
    assert (code, out.strip()) == (0, "plan unchanged: no new version")

    edited = tmp_path / "plan.yaml"
    edited.write_text(EXAMPLE.read_text().replace(OLD_SMS, NEW_SMS))
    code, out, err = run(
        "plan", "import", str(edited), "--url", url, "--author", "p-kowalczyk", "--comment", "new SIM"
    )
    assert code == 0, err
    assert out.splitlines() == [
        "plan version 2 stored, 1 change(s):",
        "  person p-verhoeven: contacts[1].address changed: '+3247*****01' -> '+3247*****99'",
    ]
    assert "+32470990199" not in out + err

    code, out, _ = run("plan", "changes", "2", "--url", url)
    assert code == 0 and "person p-verhoeven: contacts[1].address changed" in out

    code, out, _ = run("plan", "history", "--url", url)
    assert code == 0
    assert "p-kowalczyk" in out and "new SIM" in out and "p-verhoeven" in out


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_then_import_is_unchanged(url: str, tmp_path: Path, fmt: str) -> None:
    run("db", "upgrade", "--url", url)
    assert run("plan", "import", str(EXAMPLE), "--url", url)[0] == 0
    exported = tmp_path / f"export.{fmt}"
    code, _, err = run("plan", "export", "--format", fmt, "-o", str(exported), "--url", url)
    assert code == 0, err
    data = json.loads(exported.read_text()) if fmt == "json" else yaml.safe_load(exported.read_text())
    assert Plan.model_validate(data) == Plan.model_validate(yaml.safe_load(EXAMPLE.read_text()))
    code, out, err = run("plan", "import", str(exported), "--url", url)
    assert (code, out.strip()) == (0, "plan unchanged: no new version"), err


def test_export_errors_are_one_line(url: str) -> None:
    run("db", "upgrade", "--url", url)
    code, _, err = run("plan", "export", "--url", url)
    assert code == 1 and err.strip() == "error: no plan has been imported yet; run: notifier plan import"
    run("plan", "import", str(EXAMPLE), "--url", url)
    code, _, err = run("plan", "export", "--version", "9", "--url", url)
    assert code == 1 and err.strip() == "error: plan version 9 does not exist; see: notifier plan history"
    assert run("plan", "export", "--format", "xml", "--url", url)[0] == 2


def test_invalid_plan_is_refused_and_nothing_stored(url: str, tmp_path: Path) -> None:
    run("db", "upgrade", "--url", url)
    broken = tmp_path / "plan.yaml"
    broken.write_text(
        EXAMPLE.read_text().replace(OLD_SMS, '{kind: sms, address: "0470 99 01 01", label: mobile}')
    )
    code, _, err = run("plan", "import", str(broken), "--url", url)
    assert code == 1
    assert "E.164" in err and "nothing was imported" in err
    assert run("plan", "history", "--url", url)[1].strip() == "no plan has been imported yet"


def test_unreachable_postgres_is_one_line_without_password() -> None:
    code, _, err = run("db", "status", "--url", "postgresql://notifier:s3cret@127.0.0.1:1/notifier")
    assert code == 1
    assert "s3cret" not in err and err.startswith(
        "error: cannot use the database at postgresql://notifier:***@127.0.0.1:1/"
    )
    assert len(err.strip().splitlines()) == 1
