"""`notifier plan check` end to end: compiler-style lines, JSON, exit codes, load failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from notifier.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [str(ROOT / "config"), str(ROOT / "calltrees")]
#: what the examples keep on purpose (see the header of config/plan.yaml)
SUMMARY = "53 findings (3 errors, 18 warnings, 32 info)"
runner = CliRunner()

CLEAN_PLAN = """\
organisation:
  name: DG TAXUD ITSM (test)
  timezone: Europe/Brussels
  coordinator_role: iscp-coordinator
  plan_owner_role: iscp-coordinator
  rto_tiers:
    1: {min_hours: 0, max_hours: 3.5}
  strategies:
    Fast: {max_recovery_hours: 3.5}
  governance:
    approval: {role: iscp-coordinator, person: p-coord, date: 2026-10-20}
    last_reviewed: 2026-10-20
    distribution:
      - {holder: iscp-coordinator, label: printed copy 1, issued: 2026-10-21, acknowledged: 2026-10-21}
people:
  - id: p-coord
    name: Sofia Lindqvist
    last_verified: 2026-11-01
    contacts:
      - {kind: voice, address: "+442079460103", label: work}
      - {kind: sms, address: "+32470990103", label: mobile}
  - id: p-alt
    name: Julien Moreau
    last_verified: 2026-11-01
    contacts:
      - {kind: voice, address: "+442079460104", label: work}
      - {kind: sms, address: "+32470990104", label: mobile}
roles:
  - {id: iscp-coordinator, name: ISCP Coordinator, primary: p-coord, alternates: [p-alt]}
services:
  - {id: SEED, name: SEED, classification: strategic, rto_tier: 1, rpo_tier: 1, strategy: Fast,
     owner_role: iscp-coordinator, recovery_team: CCT}
teams:
  - {id: CCT, name: Crisis Coordination Team, lead: iscp-coordinator}
sites:
  - {id: lux, name: Luxembourg site, purpose: alternate_site, contacts: [p-alt],
     authorised_roles: [iscp-coordinator]}
  - {id: vault, name: Off-site vault, purpose: alternate_storage, contacts: [p-alt],
     authorised_roles: [iscp-coordinator]}
  - {id: wan2, name: Second circuit, purpose: alternate_telecom, contacts: [p-alt],
     authorised_roles: [iscp-coordinator]}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["plan", "check", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def test_examples_report_seed_and_taric_with_locations() -> None:
    code, out, _ = invoke("--today", "2026-11-22", *EXAMPLES)
    assert code == 1  # SEED, TARIC and TEDB contradict themselves: errors
    lines = out.splitlines()
    plan = str(ROOT / "config" / "plan.yaml")
    seed = [line for line in lines if "bia-strategy-slower-than-rto" in line and "service SEED" in line]
    taric = [line for line in lines if "bia-strategy-slower-than-rto" in line and "service TARIC" in line]
    assert len(seed) == 1 and len(taric) == 1
    for line in (*seed, *taric):
        where, severity_code, _ = line.split(": ", 2)
        file, row, column = where.rsplit(":", 2)
        assert (file, severity_code) == (plan, "error bia-strategy-slower-than-rto")
        assert int(row) > 0 and int(column) > 0
        text = Path(file).read_text().splitlines()[int(row) - 1]
        assert text.strip().startswith("strategy:"), text
    assert not [line for line in lines if "lead-no-alternate" in line]  # every leader has a deputy now
    assert lines[-1].startswith(SUMMARY)


def test_errors_are_listed_before_warnings_and_info() -> None:
    _, out, _ = invoke("--today", "2026-11-22", *EXAMPLES)
    order = {"error": 0, "warning": 1, "info": 2}
    ranks = [order[line.split(": ")[1].split()[0]] for line in out.splitlines()[:-1]]
    assert ranks == sorted(ranks)


def test_json_output() -> None:
    code, out, _ = invoke("--today", "2026-11-22", "--json", *EXAMPLES)
    assert code == 1
    document = json.loads(out)
    assert document["today"] == "2026-11-22"
    taric = next(f for f in document["findings"] if f["subject"] == "TARIC")
    assert taric["code"] == "bia-strategy-slower-than-rto" and taric["path"] == "services[17].strategy"
    assert taric["file"].endswith("config/plan.yaml") and taric["line"] > 0
    assert document["summary"] == {"error": 3, "warning": 18, "info": 32}


def test_today_decides_what_is_stale() -> None:
    _, now, _ = invoke("--today", "2026-11-22", *EXAMPLES)
    _, late, _ = invoke("--today", "2027-11-01", *EXAMPLES)
    assert "contact-stale" not in now and "plan-review-overdue" not in now and "tree-untested" not in now
    assert "contact details of p-leclercq were last verified 387 days ago" in late
    assert "the plan was last reviewed 377 days ago" in late  # last_reviewed 2026-10-20
    assert "call tree nist-sample was last tested 396 days ago" in late  # last_tested 2026-10-01


def test_clean_plan_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(CLEAN_PLAN)
    code, out, _ = invoke("--today", "2026-11-22", str(tmp_path / "plan.yaml"))
    assert (code, out.strip()) == (0, "no findings")


def test_warnings_alone_exit_zero_unless_fail_on_warning(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(CLEAN_PLAN.replace("    last_verified: 2026-11-01\n", "", 1))
    code, out, _ = invoke("--today", "2026-11-22", str(plan))
    assert code == 0
    assert "warning contact-unverified" in out and f"{plan}:" in out
    assert invoke("--today", "2026-11-22", "--fail-on", "warning", str(plan))[0] == 1
    assert invoke("--today", "2026-11-22", "--fail-on", "info", str(plan))[0] == 1


def test_leader_without_alternate_is_an_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(CLEAN_PLAN.replace(", alternates: [p-alt]", ""))
    code, out, _ = invoke("--today", "2026-11-22", str(plan))
    assert code == 1 and "error lead-no-alternate" in out
    assert invoke("--today", "2026-11-22", "--fail-on", "never", str(plan))[0] == 0


def test_unknown_fail_on_level_is_a_usage_error() -> None:
    code, _, err = invoke("--fail-on", "fatal", *EXAMPLES)
    assert code == 2 and "error, warning, info or never" in err


def test_files_that_do_not_load_print_problems_and_exit_one(tmp_path: Path) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text(CLEAN_PLAN.replace('"+442079460103"', '"+3212"'))
    code, out, err = invoke("--today", "2026-11-22", str(bad))
    assert code == 1 and out == ""
    assert f"{bad}:20:" in err and "people[0].contacts[0].address" in err
    assert err.strip().splitlines()[-1].startswith("error: the files did not load")


def test_bad_date_is_a_usage_error() -> None:
    code, _, err = invoke("--today", "22/11/2026", *EXAMPLES)
    assert code == 2 and "YYYY-MM-DD" in err


def test_console_script_default_paths_from_the_repository() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "notifier"), "plan", "check", "--today", "2026-11-22"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "config/plan.yaml:" in result.stdout and "service SEED" in result.stdout


TREE = """\
calltrees:
  - {id: seed-outage, name: SEED outage call tree, policy: sms, nodes: [{role: iscp-coordinator}]}
policies:
  - {id: sms, methods: [{kind: sms}]}
"""


def test_a_drill_in_the_database_counts_as_the_trees_last_test(tmp_path: Path) -> None:
    """The tree has no last_tested in the plan; the daemon's store holds a completed drill of it."""
    import asyncio

    from notifier.domain.calltree import ActivationKind
    from notifier.store.db import make_engine, upgrade_async
    from tests.reports.rows import store
    from tests.reports.scenario import T0, play_quick_drill, seed_snapshot

    (tmp_path / "plan.yaml").write_text(CLEAN_PLAN)
    (tmp_path / "trees.yaml").write_text(TREE)
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"

    async def record_drill() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await store(
                conn, play_quick_drill(seed_snapshot(ActivationKind.DRILL), T0, 1.0), "drill-1", "D1Q"
            )
        await engine.dispose()

    files = [str(tmp_path / "plan.yaml"), str(tmp_path / "trees.yaml")]
    asyncio.run(upgrade_async(url))
    _, before, _ = invoke("--today", "2026-11-22", "--url", url, *files)
    assert "tree-untested" in before and "never been tested" in before  # migrated, but no drill yet
    asyncio.run(record_drill())
    code, after, _ = invoke("--today", "2026-11-22", "--url", url, *files)
    assert (code, after.strip()) == (0, "no findings")  # drilled 2026-03-10, within 365 days
    _, later, _ = invoke("--today", "2027-06-01", "--url", url, *files)
    assert "tree-untested" in later and "days ago" in later


def test_a_missing_database_leaves_the_plans_record(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(CLEAN_PLAN)
    (tmp_path / "trees.yaml").write_text(TREE)
    url = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    _, out, err = invoke(
        "--today", "2026-11-22", "--url", url, str(tmp_path / "plan.yaml"), str(tmp_path / "trees.yaml")
    )
    assert "tree-untested" in out and "drills not read" in err
    assert not (tmp_path / "none.db").exists()  # never created by a check
