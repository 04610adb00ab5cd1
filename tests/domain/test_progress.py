"""The progress summary counts what the planner did."""

from __future__ import annotations

from notifier.domain.events import Start
from notifier.domain.plan import ChannelKind
from notifier.domain.progress import summarise
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
