"""The Start page's dry run and preview, as rules, on the NIST sample tree (pure)."""

from __future__ import annotations

import pytest

from notifier.console.dryrun import dry_run, previews
from notifier.domain.calltree import ActivationKind
from notifier.domain.estimate import estimate
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import Snapshot, compile_snapshot
from notifier.plan.loader import load
from tests.engine.conftest import ROOT


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    loaded = load([ROOT / "config" / "plan.yaml", ROOT / "calltrees"])
    assert loaded.plan is not None and loaded.trees is not None
    return compile_snapshot(loaded.plan, loaded.trees, "nist-sample", ActivationKind.DRILL, None)


def test_one_row_per_node_with_its_first_person_and_first_channel(snap: Snapshot) -> None:
    run = dry_run(snap, senders=1, rate_per_sender=1.0)
    with_holders = [n for n in snap.nodes.values() if n.holders]
    assert len(run.contacted) == len(with_holders)
    for row, node in zip(run.contacted, with_holders, strict=True):
        assert row.person == node.holders[0]
        kinds = [str(c.kind) for c in snap.people[row.person].contacts]
        first_method = next(str(m.kind) for m in node.policy.methods if str(m.kind) in kinds)
        assert row.channel == first_method
        assert "*" in row.address  # masked even for coordinators: shown on shared screens


def test_the_times_are_the_estimate_of_notifier_estimate(snap: Snapshot) -> None:
    one = dry_run(snap, senders=1, rate_per_sender=1.0)
    assert one.estimate == estimate(snap, {ChannelKind.SMS: 1.0, ChannelKind.VOICE: 1.0})
    ten = dry_run(snap, senders=5, rate_per_sender=2.0)
    assert ten.rate_per_s == 10.0
    assert ten.estimate.first_contact < one.estimate.first_contact
    assert one.estimate.nobody_answers > one.estimate.first_contact


def test_the_preview_is_what_each_channel_would_send(snap: Snapshot) -> None:
    loaded = load([ROOT / "config" / "plan.yaml", ROOT / "calltrees"])
    assert loaded.plan is not None and loaded.trees is not None
    incident = compile_snapshot(loaded.plan, loaded.trees, "nist-sample", ActivationKind.INCIDENT, None)
    shown = previews(incident, {"nature": "SEED excise system unavailable"}, "Anna Lindqvist")
    assert [p.channel for p in shown] == ["sms", "voice", "email"]
    assert all("SEED excise system unavailable" in p.text for p in shown)
    assert shown[0].segments and shown[0].segments >= 1 and shown[1].segments is None
    drill = previews(snap, {}, "Anna Lindqvist")
    assert drill[0].text.startswith("DRILL") and drill[2].subject and "[DRILL]" in drill[2].subject
