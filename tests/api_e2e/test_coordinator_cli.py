"""Issue 4 acceptance: a coordinator drives the NIST sample tree from the CLI against a running daemon.

Real processes: `notifier serve` (SQLite, 60x clock), the sandbox as Twilio and SMTP, and the
`notifier` console script as the coordinator runs it. Everyone confirms by SMS except one team
member, on whose behalf the coordinator acknowledges; closing sends the return-to-normal message to
everyone who was reached.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from notifier.domain.calltree import ActivationKind
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import compile_snapshot
from notifier.plan.loader import load
from tests.engine.conftest import ROOT
from tests.engine.procs import NOTIFIER
from tests.reliability.harness import wait_for

from .conftest import Daemon

pytestmark = pytest.mark.slow  # subprocess daemons; part of CI

SILENT = "p-romano"  # app-server-admin (NIST Figure 4-2, server recovery team)
TREE = "nist-sample"


def tree_people() -> dict[str, tuple[list[str], list[str]]]:
    """person id -> (phone numbers, email addresses) for everyone the NIST tree may call."""
    loaded = load([ROOT / "config" / "plan.yaml", ROOT / "calltrees"])
    assert loaded.plan is not None and loaded.trees is not None
    snapshot = compile_snapshot(loaded.plan, loaded.trees, TREE, ActivationKind.INCIDENT, None)
    people: dict[str, tuple[list[str], list[str]]] = {}
    for node in snapshot.nodes.values():
        for person_id in node.holders:
            person = loaded.plan.person(person_id)
            assert person is not None
            phones = sorted({c.address for c in person.contacts if c.kind is not ChannelKind.EMAIL})
            emails = sorted({c.address for c in person.contacts if c.kind is ChannelKind.EMAIL})
            people[person_id] = (phones, emails)
    return people


def person_status(view: dict[str, Any], person_id: str) -> set[str]:
    return {p["status"] for n in view["nodes"] for p in n["people"] if p["person"] == person_id}


def test_coordinator_starts_watches_acknowledges_and_closes(daemon: Daemon) -> None:
    people = tree_people()
    personas: list[dict[str, object]] = []
    for person_id, (phones, _emails) in people.items():
        preset = "never_answers" if person_id == SILENT else "confirms"
        personas += [{"number": n, "preset": preset, "reply_after": 20.0} for n in phones]
    daemon.personas(personas)

    assert daemon.cli_json("status") == []
    watcher = subprocess.Popen(
        [
            NOTIFIER,
            "activate",
            TREE,
            "--field",
            "nature=Data centre power loss",
            "--field",
            "outage_estimate=6 hours",
            "--field",
            "convene=Luxembourg site 14:00",
            "--reason",
            "EU ITSCM drill of the NIST tree",
            "--watch",
            "--interval",
            "0.3",
        ],
        env={**daemon.env, "PYTHONUNBUFFERED": "1"},  # its first line is read as soon as it is printed
        cwd=daemon.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the silent team member phoned the coordinator, who acknowledges for them as soon as the CLI
        # prints the activation: the example policy tries every method of theirs within a few seconds
        # here (x60), so waiting until the tree reaches them raced against CLI start-ups under load
        first = watcher.stdout.readline() if watcher.stdout else ""
        found = re.search(r"started activation (\w+) \(ref", first)
        assert found, first
        activation_id = found.group(1)
        acked = daemon.cli("ack", activation_id, SILENT)
        assert acked.returncode == 0, acked.stderr
        assert acked.stdout.startswith(f"acknowledged for {SILENT}"), acked.stdout
        assert ": acknowledged;" in acked.stdout, acked.stdout

        listed = daemon.cli_json("status")
        assert isinstance(listed, list) and len(listed) == 1
        assert listed[0]["id"] == activation_id and listed[0]["tree"] == TREE
        readable = daemon.cli("status", activation_id)
        assert readable.returncode == 0, readable.stderr
        assert "app-server-admin" in readable.stdout.lower() or "App" in readable.stdout
        assert "+3247" not in readable.stdout or "*" in readable.stdout  # addresses are masked

        out, err = watcher.communicate(timeout=60)
        out = first + out
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    assert f"started activation {activation_id}" in out
    assert "completed" in out

    view = daemon.cli_json("status", activation_id)
    assert isinstance(view, dict) and view["status"] == "completed"
    acknowledged = {p["person"] for n in view["nodes"] for p in n["people"] if p["status"] == "acknowledged"}
    assert SILENT in acknowledged

    # a coordinator's update, by reference code, to everyone reached: counted, and sent by SMS
    text = "Generator on, SEED back by 16:00"
    update = daemon.cli_json("update", view["ref"], "--text", text, "--field", "outage_estimate=2 h more")
    assert isinstance(update, dict) and update["activation_id"] == activation_id
    assert update["audience"] == "reached" and update["recipients"] >= len(acknowledged)
    wait_for(
        lambda: (
            len([m for m in daemon.sandbox_json("messages") if "SEED back by 16:00" in m["body"]])
            >= len(acknowledged)
        ),
        30,
        "the update to everyone reached",
    )
    bad = daemon.cli("update", activation_id, "--text", "x", "--audience", "node:no-such-node")
    assert bad.returncode == 1 and "audience: no node 'no-such-node'" in bad.stderr, bad.stderr

    closed = daemon.cli_json("close", activation_id, "--message", "SEED and the data centre are back")
    assert isinstance(closed, dict) and closed["status"] == "closed"
    reached = closed["counts"]["reached"]
    assert reached >= len(acknowledged)

    def deactivation_recipients() -> set[str]:
        texts = [(m["to"], m["body"]) for m in daemon.sandbox_json("messages")]
        texts += [(to, e["subject"] + e["text"]) for e in daemon.sandbox_json("emails") for to in e["to"]]
        hits = {to for to, body in texts if "return to normal" in body.lower() or "back" in body}
        found = {pid for pid, (phones, emails) in people.items() if hits & set(phones + emails)}
        return found if acknowledged <= found else set()

    got = wait_for(deactivation_recipients, 30, "the return-to-normal message to reach everyone reached")
    assert acknowledged <= got
    assert len(got) >= reached

    # closing twice is a conflict: one line, exit 1
    again = daemon.cli("close", activation_id)
    assert again.returncode == 1 and again.stderr.startswith("error: refused (409)")
    assert len(again.stderr.strip().splitlines()) == 1


def test_cli_errors_are_one_line(daemon: Daemon, tmp_path: Path) -> None:
    missing = daemon.cli("status", "0000000000000000")
    assert missing.returncode == 1 and "not found (404)" in missing.stderr

    unknown_tree = daemon.cli("activate", "no-such-tree")
    assert unknown_tree.returncode == 1 and "invalid request (422)" in unknown_tree.stderr
    assert "no-such-tree" in unknown_tree.stderr

    # message content: the old documented names are refused, required fields named by their path
    no_content = daemon.cli("activate", TREE, "--field", "convene_where=bridge 1")
    assert no_content.returncode == 1 and "invalid request (422)" in no_content.stderr
    assert "fields.convene_where: unknown message field" in no_content.stderr
    assert "fields.nature: required for a incident" in no_content.stderr
    assert "fields.convene" not in no_content.stderr.replace("fields.convene_where", "")  # a plan default

    bad_token = daemon.cli("status", "--token", "not-a-token")
    assert bad_token.returncode == 1 and "refused the token (401" in bad_token.stderr

    viewer = daemon.run("token", "create", "--role", "viewer", "--name", "viewer-e2e").strip()
    refused = daemon.cli("activate", TREE, "--token", viewer)
    assert refused.returncode == 1 and "(403" in refused.stderr

    down = daemon.cli("status", "--url", "http://127.0.0.1:9")
    assert down.returncode == 1
    assert down.stderr.strip() == (
        "error: cannot reach the daemon at http://127.0.0.1:9: connection refused; "
        "is `notifier serve` running?"
    )
    for result in (missing, unknown_tree, no_content, bad_token, refused, down):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr

    # the config file's api_url / api_token keys are used when nothing else is given
    config = tmp_path / "client.yaml"
    config.write_text(json.dumps({"api_url": daemon.env["NOTIFIER_API_URL"], "api_token": daemon.token}))
    env = {k: v for k, v in daemon.env.items() if k not in ("NOTIFIER_API_URL", "NOTIFIER_API_TOKEN")}
    env["NOTIFIER_CONFIG"] = str(config)
    listed = subprocess.run([NOTIFIER, "status", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
