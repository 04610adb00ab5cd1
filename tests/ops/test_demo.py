"""Issue 6 acceptance: `notifier demo` runs to completion without a terminal, in under a minute, and
leaves a report whose figures the printed summary repeats."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import ROOT

NOTIFIER = str(Path(sys.executable).with_name("notifier"))


@pytest.mark.slow
def test_demo_completes_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = dict(os.environ, NOTIFIER_CONFIG=str(tmp_path / "absent.yaml"), COLUMNS="200")
    result = subprocess.run(
        [NOTIFIER, "demo", "--speed", "250", "--out", str(out), "--timeout", "45"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # plain progress lines (stdout is not a terminal): escalation and skip-level show
    assert re.search(r"^\[\d.*\] ISCP Coordinator.*: acknowledged", output, re.M), output
    assert re.search(r"Server Recovery Team Leader: unreachable", output), output
    # nobody acknowledged the node: unreachable, and the line says who declined
    assert re.search(r"Junior Systems Engineer: unreachable\. Tiago Silva: declined", output), output
    # one definition of notified and reached: never more reached than notified
    notified = int(re.search(r"people notified\s+(\d+)", output).group(1))  # type: ignore[union-attr]
    reached = int(re.search(r"reached\s+(\d+)", output).group(1))  # type: ignore[union-attr]
    assert reached <= notified, output
    assert re.search(r"Server Support Technician 1: acknowledged", output), output  # told directly
    # the summary
    confirmed = int(re.search(r"confirmed\s+(\d+)", output).group(1))  # type: ignore[union-attr]
    assert confirmed >= 15
    assert re.search(r"declined\s+1\b", output), output
    assert re.search(r"unreachable\s+2\b", output), output
    assert "Hanna Fischer (unreachable)" in output and "no answer" in output
    assert re.search(r"against a limit of 45m 00s: (PASS|FAIL)", output), output
    html = re.search(r"(\S+/demo-(\w{3})\.html)", output)
    assert html is not None, output
    report = Path(html.group(1))
    assert report.is_file() and report.parent == out.resolve()
    assert html.group(2) in report.read_text()
    markdown = report.with_suffix(".md").read_text()
    assert "Server Recovery Team Leader" in markdown
    # never a full phone number or address on the terminal or in the log
    log = (out / "demo.log").read_text()
    assert log.count("\n") > 20
    for text in (output, log):
        assert not re.search(r"\+\d{8,15}", text)
        assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)


@pytest.mark.slow
def test_demo_with_twilio_down_fails_sms_over_to_the_gateway(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = dict(os.environ, NOTIFIER_CONFIG=str(tmp_path / "absent.yaml"), COLUMNS="200")
    result = subprocess.run(
        [NOTIFIER, "demo", "--twilio-down", "--speed", "250", "--out", str(out), "--timeout", "45"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    via_gateway = re.search(r"sms via kannel: (\d+)", output)
    assert via_gateway is not None and int(via_gateway.group(1)) >= 15, output
    log = (out / "demo.log").read_text()
    assert '"provider.failover"' in log and '"provider": "twilio"' in log
    markdown = next(out.glob("demo-*.md")).read_text()
    assert "## Delivery by provider, per attempt" in markdown and "| kannel |" in markdown
