"""The progress summary counts what the planner did."""

from __future__ import annotations

from notifier.domain.events import AckOnBehalf, Close, ProviderStatus, Start
from notifier.domain.plan import ChannelKind
from notifier.domain.progress import people_of, summarise
from tests.domain.planner_fixture import Sim, snapshot


def test_summary_of_a_tree_in_flight() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.confirm("p-net-lead")
    sim.decline("p-tel-lead")
    sim.fire("ack:database/p-db-lead")
    progress = summarise(sim.snap, sim.st)
    counts = progress.counts
    assert (counts.nodes, counts.notified, counts.acknowledged, counts.declined) == (11, 7, 2, 0)
    assert counts.pending == 9 and counts.people_reached == 3
    telecom = next(n for n in progress.nodes if n.key == "telecom")
    assert (telecom.status, telecom.current_holder) == ("notifying", "p-tel-lead-alt")
    people = {p.id: p for p in progress.people}
    assert people["p-tel-lead"].status == "declined"
    assert (people["p-db-lead"].status, people["p-db-lead"].attempts) == ("notifying", 2)
    assert people["p-db-lead"].last_channel is ChannelKind.VOICE
    assert people["p-sql-admin"].status == "not_contacted"
    assert progress.next_due == min(c.due_at for c in sim.st.cursors.values() if c.due_at)


def test_notified_reached_and_pending_have_one_definition() -> None:
    """Notified: an escalation message went out or they answered; reached: a message reached them or
    they answered; pending: being tried, no answer yet. Reached can never exceed notified."""
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")  # answered
    network_sms = sim.st.cursors["network/p-net-lead"].attempt
    assert network_sms is not None
    sim.step(ProviderStatus(attempt_id=network_sms, status="delivered"))  # reached, not answered
    sim.step(AckOnBehalf(person_id="p-db-lead-alt", by="p-cpc", response="decline"))  # never messaged
    who = people_of(sim.st)
    leaders = {"p-net-lead", "p-db-lead", "p-tel-lead", "p-srv-lead"}
    assert set(who.notified) == {"p-cpc", "p-db-lead-alt"} | leaders
    assert set(who.reached) == {"p-cpc", "p-net-lead"}
    assert set(who.pending) == {"p-net-lead", "p-db-lead", "p-tel-lead", "p-srv-lead"}
    assert summarise(sim.snap, sim.st).counts.people_reached == 2


def test_return_to_normal_goes_only_to_people_a_message_reached() -> None:
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    sim.step(AckOnBehalf(person_id="p-db-lead-alt", by="p-cpc", response="decline"))
    closing = sim.step(Close(by="p-cpc", message="SEED restored"))
    told = {a.person_id for a in closing if getattr(a, "message_kind", None) == "deactivation"}
    assert "p-db-lead-alt" not in told and "p-cpc" in told
