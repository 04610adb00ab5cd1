"""Invocation by the plan's authority (NIST SP 800-34 Rev.1 §4.2.1: "the designated authority should
activate the plan", one individual and a clearly identified successor): a route with `invoke: ask`
asks the authority; 1 invokes, 2 records the decision to stand by and tells the coordinator, silence
moves to the successor after the policy's wait, then to the coordinator."""

from __future__ import annotations

from notifier.domain.calltree import ActivationKind, TreeSet
from notifier.domain.events import Completed, Start
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind, Invocation, Plan, Role
from notifier.domain.snapshot import AUTHORITY_NODE, Snapshot, compile_invocation
from tests.domain.planner_fixture import STANDARD, Sim, logs, nist_plan, nist_tree, person, recipients, sends

DIRECTOR, SUCCESSOR = "p-director", "p-deputy"


def _plan() -> Plan:
    base = nist_plan((person(DIRECTOR, "Aline Verhoeven"), person(SUCCESSOR, "Tomasz Kowalczyk")))
    director = Role(id="iscp-director", name="ISCP Director", primary=DIRECTOR, alternates=(SUCCESSOR,))
    organisation = base.organisation.model_copy(
        update={
            "invocation": Invocation(
                authority_role="iscp-director",
                criteria=("the outage is expected to last longer than the RTO",),
            )
        }
    )
    return base.model_copy(update={"roles": (*base.roles, director), "organisation": organisation})


def _question() -> Snapshot:
    trees = TreeSet(calltrees=(nist_tree(),), policies=(STANDARD,))
    return compile_invocation(_plan(), trees, "nist-sample", ActivationKind.INCIDENT)


def test_the_question_is_one_node_the_authority_then_successors_then_the_coordinator() -> None:
    snap = _question()
    assert list(snap.nodes) == [AUTHORITY_NODE]
    assert snap.nodes[AUTHORITY_NODE].holders == (DIRECTOR, SUCCESSOR, "p-cpc", "p-acpc")
    assert snap.invokes is not None and snap.invokes.tree_id == "nist-sample"
    sim = Sim(snap)
    actions = sim.step(Start())
    assert [(s.person_id, s.message_kind) for s in sends(actions)] == [(DIRECTOR, "invocation")]


def test_1_invokes_and_the_decision_is_logged() -> None:
    sim = Sim(_question())
    sim.step(Start())
    actions = sim.confirm(DIRECTOR)
    assert sim.st.status == "completed" and sim.st.nodes[AUTHORITY_NODE].acked_by == DIRECTOR
    assert any(isinstance(a, Completed) for a in actions)
    decision = [x for x in logs(actions) if x.step == "decision"]
    assert [(x.who, x.outcome) for x in decision] == [
        (DIRECTOR, "invoke: Aline Verhoeven for NIST Figure 4-2 sample call tree; the tree is started")
    ]


def test_2_records_standing_by_tells_the_coordinator_and_asks_nobody_else() -> None:
    sim = Sim(_question())
    sim.step(Start())
    actions = sim.decline(DIRECTOR)
    assert sim.st.status == "completed" and sim.st.nodes[AUTHORITY_NODE].status == "declined"
    assert recipients(actions, "invocation") == []  # the successor is not asked: this was a decision
    assert sorted(recipients(actions, "decision_notice")) == ["p-acpc", "p-cpc"]
    notice = next(s for s in sends(actions) if s.message_kind == "decision_notice")
    assert notice.extra == {"decision": "stand by", "by": "Aline Verhoeven"}
    assert any(x.step == "decision" and x.outcome.startswith("stand by (via sms)") for x in logs(actions))


def test_silence_moves_to_the_successor_then_to_the_coordinator() -> None:
    sim = Sim(_question())
    sim.step(Start())
    asked: list[str] = [DIRECTOR]
    while len(asked) < 3 and sim.deadlines:
        key = next(k for k in sim.deadlines if k.startswith("ack:"))
        for who in recipients(sim.fire(key), "invocation"):
            if who not in asked:
                asked.append(who)
    assert asked == [DIRECTOR, SUCCESSOR, "p-cpc"]
    sim.confirm("p-cpc")  # the coordinator decides in the end
    assert sim.st.status == "completed" and sim.st.nodes[AUTHORITY_NODE].acked_by == "p-cpc"


def test_the_question_reads_as_the_issue_asks() -> None:
    snap = _question()
    estimate = "up to 3.5 h (RTO tier 1, MTD 3.5 h)"
    message = MessageFields(nature="SEED down", outage_estimate=estimate, ref="K7Q")
    sms = render(MessageKind.INVOCATION, ChannelKind.SMS, message, snap.templates).text
    assert sms == (
        "SEED down. Expected outage up to 3.5 h (RTO tier 1, MTD 3.5 h). "
        "Reply 1 to invoke the continuity plan, 2 to stand by (ref K7Q)"
    )
