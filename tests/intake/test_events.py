"""Activation events derived from successive states (pure; no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.state import ActivationState, NodeState, PersonCursor
from notifier.intake.events import EventTracker

AT = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


def state(status: str, nodes: dict[str, str], acked: dict[str, str] | None = None) -> ActivationState:
    cursors = {
        f"{node}/{person}": PersonCursor(
            node=node, person=person, holder_index=0, status="acknowledged", acked_via="sms"
        )
        for person, node in (acked or {}).items()
    }
    return ActivationState(
        status=status,  # type: ignore[arg-type]
        started_at=AT,
        nodes={k: NodeState(status=v) for k, v in nodes.items()},  # type: ignore[arg-type]
        cursors=cursors,
    )


def test_first_sight_then_changes_only() -> None:
    tracker = EventTracker()
    first = tracker.observe(
        "a1", state("open", {"iscp-coordinator": "notifying", "telecom-lead": "pending"}), AT
    )
    assert [(e["event"], e.get("node"), e["status"]) for e in first] == [
        ("activation", None, "open"),
        ("node", "iscp-coordinator", "notifying"),
    ]
    assert (
        tracker.observe("a1", state("open", {"iscp-coordinator": "notifying", "telecom-lead": "pending"}), AT)
        == []
    )
    acked = tracker.observe(
        "a1",
        state(
            "open",
            {"iscp-coordinator": "acknowledged", "telecom-lead": "notifying"},
            {"p-lindqvist": "iscp-coordinator"},
        ),
        AT,
    )
    assert [e["event"] for e in acked] == ["node", "node", "acknowledged"]
    assert acked[-1] == {
        "event": "acknowledged",
        "activation_id": "a1",
        "node": "iscp-coordinator",
        "person": "p-lindqvist",
        "via": "sms",
        "at": AT.isoformat(),
    }


def test_closed_activations_are_forgotten() -> None:
    tracker = EventTracker()
    tracker.observe("a1", state("open", {"n": "notifying"}), AT)
    closed = tracker.observe("a1", state("closed", {"n": "acknowledged"}), AT)
    assert closed[0] == {
        "event": "activation",
        "activation_id": "a1",
        "status": "closed",
        "at": AT.isoformat(),
    }
    assert tracker._last == {}


def test_tracker_is_bounded() -> None:
    tracker = EventTracker(limit=2)
    for name in ("a1", "a2", "a3"):
        tracker.observe(name, state("open", {"n": "notifying"}), AT)
    assert list(tracker._last) == ["a2", "a3"]
