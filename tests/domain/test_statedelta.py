"""The state journal: replaying each step's delta onto the previous state's JSON gives exactly the
next state (values and dict order), over random event sequences; and the completion check, which
now starts from a remembered node instead of walking every node, agrees with a full walk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from notifier.domain.calltree import CompletionRule, Mode
from notifier.domain.events import Start
from notifier.domain.planner import decide, initial_state
from notifier.domain.state import RESOLVED, ActivationState
from notifier.domain.statedelta import apply_delta, delta_size, state_delta, state_size
from tests.domain.planner_fixture import Sim
from tests.domain.test_planner_properties import random_runs, to_event, variant


def as_json(state: ActivationState) -> dict[str, Any]:
    return state.model_dump(mode="json")


def may_still_notify(sim: Sim, key: str) -> bool:
    """The completion module's rule, restated as a plain recursive walk for comparison."""
    state, snap = sim.st, sim.snap
    status = state.nodes[key].status
    if status != "pending":
        return status == "notifying"
    parent = snap.nodes[key].parent
    if parent is None:
        return not state.started
    parent_status = state.nodes[parent].status
    if parent_status in ("pending", "notifying"):
        return may_still_notify(sim, parent)
    if parent_status in ("unreachable", "declined"):
        return snap.nodes[parent].policy.skip_level
    return parent_status == "acknowledged"


def check_completion_agrees(sim: Sim) -> None:
    state, snap = sim.st, sim.snap
    if state.status != "open" or not state.started:
        return
    acked = sum(1 for n in state.nodes.values() if n.status == "acknowledged")
    rule = snap.completion
    if rule.rule is CompletionRule.FIRST:
        met = acked >= 1
    elif rule.rule is CompletionRule.QUORUM:
        met = acked >= (rule.quorum or 1)
    else:
        met = all(
            state.nodes[key].status in RESOLVED or not may_still_notify(sim, key)
            for key, node in snap.nodes.items()
            if node.required
        )
    assert not met, "the completion rule holds but the activation is still open"
    if not any(may_still_notify(sim, key) for key in state.nodes):
        assert state.exhausted, "nothing is left to try but the activation is not marked exhausted"


@random_runs
def test_replaying_deltas_rebuilds_every_state(
    mode: Mode, completion: int, flags: int, script: list[tuple[object, ...]], gaps: list[int]
) -> None:
    sim = Sim(variant(mode, completion, flags), accept=False)
    first = initial_state(sim.snap, sim.now)
    sim.state = first
    sim.step(Start())
    document = as_json(first)
    apply_delta(document, state_delta(first, sim.st))
    assert document == as_json(sim.st)
    journal = 0
    for op, gap in zip(script, gaps, strict=False):
        sim.now += timedelta(minutes=gap)
        event = to_event(sim, op)
        if event is None:
            continue
        before = sim.st
        sim.step(event)
        delta = state_delta(before, sim.st)
        decision = decide(sim.snap, before, event, sim.now)  # the same step again, for its `changed`
        assert state_delta(before, decision.state, decision.changed) == delta
        apply_delta(document, delta)
        expected = as_json(sim.st)
        assert document == expected
        for name in ("nodes", "cursors", "attempts"):  # order too: the planner iterates these dicts
            assert list(document[name]) == list(expected[name])
        assert ActivationState.model_validate(document) == sim.st
        journal += delta_size(delta)
        check_completion_agrees(sim)
    assert state_size(sim.st) >= 1 + len(sim.st.nodes)


def test_an_unchanged_state_gives_a_header_only_delta() -> None:
    sim = Sim(variant(Mode.BROADCAST, 0, 0))
    sim.step(Start())
    delta = state_delta(sim.st, sim.st)
    assert set(delta) == {"header"} and delta_size(delta) == 1


def test_a_list_that_is_not_an_append_is_written_whole() -> None:
    sim = Sim(variant(Mode.BROADCAST, 0, 0))
    sim.step(Start())
    old = sim.st.model_copy(update={"reached": ("p-a", "p-b")})
    new = sim.st.model_copy(update={"reached": ("p-b",)})
    document = as_json(old)
    apply_delta(document, state_delta(old, new))
    assert document["reached"] == ["p-b"]
