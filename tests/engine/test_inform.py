"""What a step posts to the informed channels (`notifier.engine.inform.posts`), rule by rule."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.events import Announce, Cancel, Close, DeadlineDue, ProviderStatus, Start
from notifier.domain.state import ActivationState
from notifier.engine.inform import posts
from tests.domain.planner_fixture import nist_tree, snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SNAP = snapshot(nist_tree())
FIELDS = {"nature": "Power loss at the primary data centre"}


def state(status: str = "open") -> ActivationState:
    return ActivationState(status=status, started_at=T0, nodes={})  # type: ignore[arg-type]


def subjects(before: str, after: str, *events: object) -> list[str]:
    return [subject for subject, _ in posts(SNAP, "K7Q", FIELDS, state(before), state(after), events)]  # type: ignore[arg-type]


def test_the_start_is_posted_with_the_nature_of_the_event() -> None:
    [(subject, text)] = posts(SNAP, "K7Q", FIELDS, state(), state(), [Start()])
    assert subject.endswith("activated") and "K7Q" in subject and "Power loss" in text


def test_an_update_is_posted_with_its_message() -> None:
    [(_, text)] = posts(SNAP, "K7Q", FIELDS, state(), state(), [Announce(by="p-cpc", message="SEED back")])
    assert text.endswith("update: SEED back")


def test_completion_close_and_cancel_are_posted_once() -> None:
    assert [s.rsplit(" ", 1)[1] for s in subjects("open", "completed")] == ["completed"]
    assert [s.rsplit(" ", 1)[1] for s in subjects("completed", "closed", Close(by="p-cpc"))] == ["closed"]
    assert [s.rsplit(" ", 1)[1] for s in subjects("open", "cancelled", Cancel(by="p-cpc"))] == ["cancelled"]
    assert subjects("closed", "closed") == []


def test_status_callbacks_and_deadlines_post_nothing() -> None:
    assert subjects("open", "open", ProviderStatus(attempt_id="a1", status="delivered")) == []
    assert subjects("open", "open", DeadlineDue(key="ack:cpc/p-cpc", fence=1)) == []
