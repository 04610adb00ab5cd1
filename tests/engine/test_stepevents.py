"""Activation events derived from one step's states before and after (pure; no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.state import ActivationState, NodeState, PersonCursor
from notifier.engine.stepevents import step_events

AT = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


def state(
    status: str, nodes: dict[str, str], acked: dict[str, str] | None = None, started: bool = True
) -> ActivationState:
    cursors = {
        f"{node}/{person}": PersonCursor(
            node=node, person=person, holder_index=0, status="acknowledged", acked_via="sms"
        )
        for person, node in (acked or {}).items()
    }
    return ActivationState(
        status=status,  # type: ignore[arg-type]
        started=started,
        started_at=AT,
        nodes={k: NodeState(status=v) for k, v in nodes.items()},  # type: ignore[arg-type]
        cursors=cursors,
    )


def test_the_first_step_announces_the_activation_and_what_it_started() -> None:
    before = state("open", {"iscp-coordinator": "pending", "telecom-lead": "pending"}, started=False)
    after = state("open", {"iscp-coordinator": "notifying", "telecom-lead": "pending"})
    events = step_events("a1", before, after, {"nodes": ("iscp-coordinator",)}, AT)
    assert [(e["event"], e.get("node"), e["status"]) for e in events] == [
        ("activation", None, "open"),
        ("node", "iscp-coordinator", "notifying"),
    ]


def test_only_what_the_step_wrote_and_changed_is_reported() -> None:
    before = state("open", {"iscp-coordinator": "notifying", "telecom-lead": "pending"})
    assert step_events("a1", before, before, {"nodes": ("iscp-coordinator",)}, AT) == []  # rewritten, same
    after = state(
        "open",
        {"iscp-coordinator": "acknowledged", "telecom-lead": "notifying"},
        {"p-lindqvist": "iscp-coordinator"},
    )
    changed = {"nodes": ("iscp-coordinator", "telecom-lead"), "cursors": ("iscp-coordinator/p-lindqvist",)}
    acked = step_events("a1", before, after, changed, AT)
    assert [e["event"] for e in acked] == ["node", "node", "acknowledged"]
    assert acked[-1] == {
        "event": "acknowledged",
        "activation_id": "a1",
        "node": "iscp-coordinator",
        "person": "p-lindqvist",
        "via": "sms",
        "at": AT.isoformat(),
    }
    # an entry the step did not write is not looked at (that is what keeps a step O(changes))
    assert [e["event"] for e in step_events("a1", before, after, {"nodes": ("telecom-lead",)}, AT)] == [
        "node"
    ]


def test_closing_is_an_activation_event() -> None:
    before = state("completed", {"n": "acknowledged"})
    closed = step_events("a1", before, state("closed", {"n": "acknowledged"}), {}, AT)
    assert closed == [
        {"event": "activation", "activation_id": "a1", "status": "closed", "at": AT.isoformat()}
    ]


def test_an_unknown_previous_state_reports_everything_that_is_not_pending() -> None:
    after = state("open", {"n": "notifying", "m": "pending"}, {"p-ana": "n"})
    events = step_events("a1", None, after, {}, AT)
    assert [(e["event"], e.get("node")) for e in events] == [
        ("activation", None),
        ("node", "n"),
        ("acknowledged", "n"),
    ]
