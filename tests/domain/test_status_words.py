"""Statuses in a coordinator's words, and what an answer on someone's behalf did (pure rules)."""

from __future__ import annotations

from typing import get_args

from notifier.domain.progress import PersonStatus, answer_outcome, status_word
from notifier.domain.state import ActivationStatus, AttemptStatus, NodeStatus


def test_no_status_is_shown_with_the_engines_underscores() -> None:
    for status in (*get_args(PersonStatus), *get_args(NodeStatus), *get_args(AttemptStatus)):
        assert "_" not in status_word(status) and "_" not in status_word(status, person=True)
    assert status_word("not_contacted", person=True) == "not contacted"
    assert status_word("exhausted", person=True) == "unreachable"  # as the report says
    assert status_word("notifying", person=True) == "being tried"
    assert status_word("cancelled", person=True) == "stopped"  # the tree stopped trying them
    for status in get_args(ActivationStatus):  # an activation's own words stay as they are
        assert status_word(status) == status


def test_an_answer_that_changed_nothing_says_why() -> None:
    acked = frozenset({"acknowledged"})
    assert answer_outcome(frozenset({"notifying"}), acked, "completed") == (True, "acknowledged")
    assert answer_outcome(frozenset({"not_contacted"}), frozenset({"not_contacted"}), "completed") == (
        False,
        "the activation is already completed: nothing changed (not contacted)",
    )
    assert answer_outcome(acked, acked, "open") == (False, "nothing changed: acknowledged")
