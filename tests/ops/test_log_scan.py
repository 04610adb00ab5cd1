"""Issue 6 acceptance: no full phone number or email address in any log line.

A representative integration run with real processes (the daemon with JSON logs, the sandbox as its
own process): the NIST sample tree with SMS confirmations, a decline, a keypress confirmation on a
call, email with its ack link, a STOP, the deactivation message on close. Every line either process
wrote, and every CLI output, is scanned.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from notifier.domain.plan import ChannelKind, Plan
from notifier.plan.loader import load
from tests.engine.conftest import ROOT
from tests.engine.procs import Processes
from tests.reliability.harness import wait_for

FULL_NUMBER = re.compile(r"\+\d{8,15}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ROLE_BEHAVIOUR = {
    "server-recovery-lead": {"sms_reply": None, "digits": "1"},  # confirms by keypress on the call
    "junior-systems-engineer": {"sms_reply": "2"},  # declines
    "help-desk-tech": {"sms_reply": "STOP"},  # opts out instead of answering
    "database-analyst": {
        "sms_reply": None,
        "voice": "no-answer",
        "email_click": True,
        "email_click_after": 0.2,
    },
}


def personas(plan: Plan) -> list[dict[str, Any]]:
    special = {}
    for role_id, behaviour in ROLE_BEHAVIOUR.items():
        role = plan.role(role_id)
        assert role is not None and role.primary
        special[role.primary] = behaviour
    items: list[dict[str, Any]] = []
    for person in plan.people:
        behaviour = special.get(person.id, {"sms_reply": "1"})
        email = next((c.address for c in person.contacts if c.kind is ChannelKind.EMAIL), None)
        numbers = {c.address for c in person.contacts if c.kind is not ChannelKind.EMAIL}
        for number in sorted(numbers):
            items.append({"number": number, "reply_after": 0.3, **behaviour})
        if email:
            items.append({"email": email, "reply_after": 0.3, **behaviour})
    return items


def offending(text: str) -> list[str]:
    return [line[:300] for line in text.splitlines() if FULL_NUMBER.search(line) or EMAIL.search(line)]


@pytest.mark.slow
def test_no_full_phone_number_or_email_address_in_any_log_line(tmp_path: Path) -> None:
    loaded = load([ROOT / "config" / "plan.yaml"])
    assert loaded.plan is not None
    procs = Processes(tmp_path, tmp_path)
    procs.env.update(
        {
            "NOTIFIER_PLAN_PATHS": json.dumps([str(ROOT / "config" / "plan.yaml")]),
            "NOTIFIER_CALLTREE_PATHS": json.dumps([str(ROOT / "calltrees")]),
            "NOTIFIER_CLOCK_SCALE": "600",
        }
    )
    outputs: list[str] = []
    try:
        outputs.append(procs.run("db", "upgrade"))
        token = procs.run("token", "create", "--role", "coordinator", "--name", "log-scan").strip()
        procs.start_sandbox()
        request = urllib.request.Request(
            f"http://127.0.0.1:{procs.sandbox_port}/sandbox/personas",
            method="POST",
            data=json.dumps(personas(loaded.plan)).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        procs.start_daemon()
        started = procs.api(
            "POST",
            "/api/v1/activations",
            token,
            {
                "tree": "nist-sample",
                "kind": "incident",
                "fields": {"nature": "EOS outage: contact eos-support@example.org or +32470000999"},
            },
        )
        activation = started["id"]

        def done() -> bool:
            view = procs.api("GET", f"/api/v1/activations/{activation}", token)
            return bool(view["status"] != "open")

        wait_for(done, 90, "the NIST tree to complete")
        closed = procs.api("POST", f"/api/v1/activations/{activation}/close", token, {})
        assert closed["status"] == "closed"
        time.sleep(1.0)  # deactivation messages and their callbacks
        messages = procs.sandbox_json("messages")
        calls = procs.sandbox_json("calls")
        emails = procs.sandbox_json("emails")
    finally:
        procs.stop()
    # the run did what the scan needs: SMS both ways, calls, email, a STOP, the close
    assert len(messages) > 20 and calls and emails
    logs = "\n".join(path.read_text(errors="replace") for path in procs.logs)
    daemon_log = "\n".join(p.read_text(errors="replace") for p in procs.logs if p.name.startswith("daemon"))
    for needle in ("sms reply", "activation started"):
        assert needle in daemon_log, needle
    assert re.search(r"\+\d{2,6}\*+\d{2}", daemon_log), "numbers are logged, masked"
    assert "STOP" in daemon_log or "opt" in daemon_log.lower()
    bad = offending(logs + "\n".join(outputs))
    assert not bad, "\n".join(bad[:20])


@pytest.mark.slow
def test_in_process_integration_tests_log_nothing_personal(tmp_path: Path) -> None:
    """The in-process NIST cascade and the metrics scenario under the log-scan plugin."""
    import os
    import subprocess
    import sys

    log_file = tmp_path / "scan.log"
    env = dict(os.environ, NOTIFIER_LOGSCAN_FILE=str(log_file))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.ops.logscan_plugin",
            "-p",
            "no:cacheprovider",
            "tests/engine/test_nist_cascade.py",
            "tests/ops/test_metrics.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 with personal data" in result.stdout, result.stdout[-2000:]
    text = log_file.read_text()
    assert text.count("\n") > 100
    assert '"logger": "notifier.' in text and re.search(r"\+\d{2,6}\*+\d{2}", text)
    assert not offending(text)


def test_the_scan_finds_a_leak() -> None:
    from tests.ops.logscan_plugin import leaks

    assert leaks('{"to": "+32470990201"}\n{"to": "+3247*****01"}') == ['{"to": "+32470990201"}']
    assert leaks("mail ana.novak@example.org") and not leaks("mail a***@example.org")
    assert offending("to +447700900123") and not offending("to +4477*****23")
