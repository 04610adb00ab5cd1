"""A large start goes out in chunks (issue 19): the first messages of a broadcast are decided (and
so committed and sent) while the rest are still to be planned, and nothing about the tree's rules
changes because of it."""

from __future__ import annotations

from notifier.domain.calltree import CallTree, Completion, CompletionRule, Mode, Node
from notifier.domain.events import Cancel, DeadlineDue, Reply, Start
from notifier.domain.plan import ChannelKind, ContactMethod, Organisation, Person, Plan, Role
from notifier.domain.planner import FIRST_CHUNK, NEXT_CHUNK
from notifier.domain.state import START_KEY
from tests.domain.planner_fixture import STANDARD, Sim, logs, recipients, snapshot

PEOPLE = FIRST_CHUNK + NEXT_CHUNK + 7  # three chunks: a full first one, a full second one, 7 more


def _plan(count: int) -> Plan:
    people = [
        Person(
            id=f"p{i:04d}",
            name=f"Person {i}",
            contacts=(ContactMethod(kind=ChannelKind.SMS, address=f"+3247{1000000 + i:07d}"),),
        )
        for i in range(count)
    ]
    return Plan(
        organisation=Organisation(name="Mass", timezone="Europe/Brussels", coordinator_role="cpc"),
        people=tuple(people),
        roles=(Role(id="cpc", name="Coordinator", primary="p0000"),),
    )


def _broadcast(count: int = PEOPLE, rule: CompletionRule = CompletionRule.ALL) -> Sim:
    tree = CallTree(
        id="everyone",
        name="Everyone",
        mode=Mode.BROADCAST,
        policy="standard",
        completion=Completion(rule=rule),
        nodes=tuple(Node(person=f"p{i:04d}") for i in range(count)),
    )
    # no provider answers: each would be a step of its own, and chunking does not depend on them
    return Sim(snapshot(tree=tree, plan=_plan(count), policies=(STANDARD,)), accept=False)


def confirm_all(sim: Sim, people: list[str]) -> None:
    sim.step_many([Reply(person_id=p, response="confirm", channel=ChannelKind.SMS) for p in people])


def everyone() -> list[str]:
    return [f"p{i:04d}" for i in range(PEOPLE)]


def test_start_notifies_the_first_chunk_and_schedules_the_rest_at_once() -> None:
    sim = _broadcast()
    actions = sim.step(Start())
    assert recipients(actions, "activation") == everyone()[:FIRST_CHUNK]
    assert sim.deadlines[START_KEY] == (sim.now, FIRST_CHUNK)  # due now; the fence is the position
    assert sim.st.start_left == PEOPLE - FIRST_CHUNK
    assert [log.step for log in logs(actions)].count("start in chunks") == 1


def test_each_firing_notifies_the_next_chunk_in_the_trees_order_until_none_is_left() -> None:
    sim = _broadcast()
    sim.step(Start())
    second = sim.fire(START_KEY)
    assert recipients(second, "activation") == everyone()[FIRST_CHUNK : FIRST_CHUNK + NEXT_CHUNK]
    last = sim.fire(START_KEY)
    assert recipients(last, "activation") == everyone()[FIRST_CHUNK + NEXT_CHUNK :]
    assert START_KEY not in sim.deadlines and sim.st.start_left == 0
    assert recipients(sim.history, "activation") == everyone()  # each person once, in order
    assert all(node.status == "notifying" for node in sim.st.nodes.values())


def test_a_start_small_enough_for_one_chunk_is_one_step() -> None:
    sim = _broadcast(FIRST_CHUNK)
    actions = sim.step(Start())
    assert len(recipients(actions, "activation")) == FIRST_CHUNK
    assert START_KEY not in sim.deadlines and "start in chunks" not in [log.step for log in logs(actions)]


def test_a_repeated_firing_of_the_same_chunk_is_stale() -> None:
    sim = _broadcast()
    sim.step(Start())
    sim.fire(START_KEY)
    again = sim.step(DeadlineDue(key=START_KEY, fence=FIRST_CHUNK))  # replayed after a crash
    assert recipients(again, "activation") == []
    assert recipients(sim.history, "activation") == everyone()[: FIRST_CHUNK + NEXT_CHUNK]


def test_the_all_rule_waits_for_nodes_the_start_has_not_reached_yet() -> None:
    sim = _broadcast()
    sim.step(Start())
    confirm_all(sim, everyone()[:FIRST_CHUNK])
    assert sim.st.status == "open" and not sim.st.exhausted  # 607 people are still to be notified
    sim.fire(START_KEY)
    sim.fire(START_KEY)
    confirm_all(sim, everyone()[FIRST_CHUNK:])
    assert sim.st.status == "completed"


def test_completion_mid_start_notifies_no_more() -> None:
    sim = _broadcast(rule=CompletionRule.FIRST)
    sim.step(Start())
    sim.confirm("p0042")
    assert sim.st.status == "completed" and sim.st.start_left == 0
    assert START_KEY not in sim.deadlines
    assert all(sim.st.nodes[key].status == "cancelled" for key in list(sim.st.nodes)[FIRST_CHUNK:])
    late = sim.step(DeadlineDue(key=START_KEY, fence=FIRST_CHUNK))  # one already in flight
    assert recipients(late, "activation") == []


def test_cancel_mid_start_notifies_no_more() -> None:
    sim = _broadcast()
    sim.step(Start())
    sim.fire(START_KEY)
    sim.step(Cancel(by="p0000", reason="false alarm"))
    assert sim.st.status == "cancelled" and sim.deadlines == {}
    assert sim.step(DeadlineDue(key=START_KEY, fence=FIRST_CHUNK + NEXT_CHUNK)) is not None
    assert recipients(sim.history, "activation") == everyone()[: FIRST_CHUNK + NEXT_CHUNK]
