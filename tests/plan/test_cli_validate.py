"""`notifier validate` and `notifier schema` as a coordinator runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from notifier.cli import app
from tests.plan.helpers import VALID, copy_valid, edit_file, line_of

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_valid_files_pass() -> None:
    code, output = run("validate", str(VALID))
    assert code == 0  # an over-long worst case is for `plan check` to judge, not a load error
    *worst, last = output.strip().splitlines()
    assert last == "2 files, 0 errors"
    assert len(worst) == 2 and all(
        re.fullmatch(r"worst case: nist-iscp under standard.* OVER its limit of 1h", w) for w in worst
    )


def test_repository_examples_pass() -> None:
    """The acceptance command itself: `notifier validate config calltrees` on the shipped examples."""
    code, output = run("validate", str(REPO / "config"), str(REPO / "calltrees"))
    assert code == 0, output
    assert re.fullmatch(r"\d+ files, 0 errors(, \d+ warnings?)?", output.strip().splitlines()[-1])


def test_unknown_role_cycle_and_bad_phone_are_all_reported(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    edit_file(copy / "nist.yaml", "- role: network-lead", "- role: net-lead")
    edit_file(
        copy / "plan.yaml", "    strategy: gradual\n", "    strategy: gradual\n    dependencies: [EOS]\n"
    )
    edit_file(copy / "plan.yaml", '"+442079460104"', '"+4420794601"')
    code, output = run("validate", str(copy))
    assert code == 1
    lines = output.strip().splitlines()
    plan_text = (copy / "plan.yaml").read_text()
    tree_text = (copy / "nist.yaml").read_text()
    tree_file, plan_file = copy / "nist.yaml", copy / "plan.yaml"
    phone_line = line_of(plan_text, '"+4420794601"')
    cycle_line = line_of(plan_text, "dependencies: [EOS]")
    expected = [
        f"{tree_file}:{line_of(tree_text, 'net-lead')}:17: "
        "calltrees[0].nodes[0].children[0].children[1].role: "
        "unknown role 'net-lead'; did you mean 'network-lead'?",
        f"{plan_file}:{phone_line}:21: people[3].contacts[0].address: "
        "phone number is not a valid number for its country",
        f"{plan_file}:{cycle_line}:20: services[2].dependencies[0]: "
        "dependency cycle EOS -> TARIC -> EOS; a service cannot depend on itself, even indirectly",
    ]
    assert lines == [*expected, "3 errors in 2 files (2 files checked)"]


def test_json_output(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    edit_file(copy / "nist.yaml", "- role: network-lead", "- role: net-lead")
    code, output = run("validate", "--json", str(copy))
    assert code == 1
    document = json.loads(output)
    assert document["errors"] == 1 and document["ok"] is False
    [problem] = document["problems"]
    assert problem["file"] == str(copy / "nist.yaml")
    assert problem["path"] == "calltrees[0].nodes[0].children[0].children[1].role"
    assert problem["severity"] == "error" and problem["column"] == 17


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    edit_file(copy / "nist.yaml", "services: [SEED]", "services: [SEED, SPEED]")
    code, output = run("validate", str(copy))
    assert code == 0
    assert output.strip().splitlines()[-1] == "2 files, 0 errors, 1 warning"
    assert "warning: 'SPEED' is an alias of service 'SPEED-ECN'" in output


def test_malformed_files_never_show_a_traceback(tmp_path: Path) -> None:
    bad = {
        "empty.yaml": "",
        "list.yaml": "- people\n",
        "tabs.yaml": "organisation:\n\tname: X\n",
        "dupes.yaml": "organisation: {name: X}\npeople: []\npeople: []\n",
        "syntax.yaml": "organisation: [\n",
        "binary.yaml": None,
    }
    for name, text in bad.items():
        path = tmp_path / name
        if text is None:
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(text)
        code, output = run("validate", str(path))
        assert code == 1, name
        assert "Traceback" not in output
        assert output.splitlines()[0].startswith(str(path)), (name, output)
    (tmp_path / "no-yaml-here").mkdir()
    code, output = run("validate", str(tmp_path / "no-yaml-here"), str(tmp_path / "missing"))
    assert code == 1
    assert "no such file or directory" in output and "Traceback" not in output


def test_subprocess_has_no_traceback_and_exit_code_1(tmp_path: Path) -> None:
    broken = tmp_path / "plan.yaml"
    broken.write_text("organisation:\n  name: X\n  name: Y\npeople:\n\t- id: a\n")
    process = subprocess.run(
        [sys.executable, "-c", "from notifier.cli import main; main()", "validate", str(broken)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert "Traceback" not in process.stdout + process.stderr
    assert f"{broken}:5:1: YAML syntax error" in process.stdout


def test_schema_prints_all_three_kinds() -> None:
    code, output = run("schema")
    assert code == 0
    document = json.loads(output)
    assert sorted(document) == ["calltrees", "config", "plan"]
    assert "organisation" in document["plan"]["properties"]
    assert "calltrees" in document["calltrees"]["properties"]
    assert "database_url" in document["config"]["properties"]
    ack_wait = document["calltrees"]["$defs"]["EscalationPolicy"]["properties"]["ack_wait"]
    assert ack_wait["default"] == "5m"
    pattern = ack_wait["anyOf"][0]["pattern"]
    assert re.match(pattern, "1h30m") and not re.match(pattern, "soon")


def test_schema_of_one_kind_and_usage_error() -> None:
    code, output = run("schema", "plan")
    assert code == 0
    assert json.loads(output)["additionalProperties"] is False
    code, _ = run("schema", "calendar")
    assert code == 2


def test_worst_case_of_each_tree_is_shown() -> None:
    """The same figure `plan check` holds against the time limit (domain/worstcase.py)."""
    code, output = run("validate", str(REPO / "config"), str(REPO / "calltrees"))
    assert code == 0
    shown = (
        r"worst case: nist-sample under drill \(route scheduled-drill\): 4\dm\S* "
        r"\(queueing \S+\), within its limit of 45m"
    )
    assert re.search(shown, output), output
    code, output = run("validate", "--json", str(REPO / "config"), str(REPO / "calltrees"))
    cases = json.loads(output)["worst_cases"]
    assert {c["calltree"] for c in cases} == {"nist-sample", "taxud-crisis", "taxud-team-leads", "all-staff"}
    assert all(c["within_limit"] for c in cases)


def test_plan_schema_has_the_bia_sites_and_governance_fields() -> None:
    """NIST App. B (BIA), App. F (alternate sites) and plan control, for editors completing plan files."""
    code, output = run("schema", "plan")
    assert code == 0
    defs = json.loads(output)["$defs"]
    service = defs["Service"]["properties"]
    for name in (
        "rto_hours",
        "rpo_hours",
        "bia_date",
        "recovery_priority",
        "drivers",
        "processes",
        "resources",
        "workarounds",
    ):
        assert name in service, name
    assert set(defs["Resource"]["properties"]) >= {"component", "platform", "recovery_priority"}
    assert set(defs["Site"]["properties"]) >= {
        "purpose",
        "contacts",
        "authorised_roles",
        "vendor",
        "agreement",
    }
    assert defs["SitePurpose"]["enum"] == [
        "primary",
        "alternate_site",
        "alternate_storage",
        "alternate_telecom",
    ]
    governance = defs["Governance"]["properties"]
    assert set(governance) == {"approval", "last_reviewed", "last_tested", "distribution"}
    assert set(defs["Approval"]["properties"]) == {"role", "person", "date"}
    assert "impact_categories" in defs["Organisation"]["properties"]
