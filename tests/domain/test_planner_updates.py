"""Coordinator updates (NIST: revised estimates, a new convene point): who gets them, and that they
never move the escalation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifier.domain.events import Announce, Start

from .planner_fixture import Sim, logs, recipients, sends, snapshot


def _started() -> Sim:
    """The coordinator confirmed; the four team leaders are being tried, none has answered."""
    sim = Sim(snapshot())
    sim.step(Start())
    sim.confirm("p-cpc")
    return sim


LEADERS = ["p-net-lead", "p-db-lead", "p-tel-lead", "p-srv-lead"]


def test_an_update_goes_to_everyone_reached_by_default_and_changes_no_escalation() -> None:
    sim = _started()
    cursors = dict(sim.st.cursors)
    actions = sim.step(Announce(by="coordinator", message="Failover to the secondary site done"))
    assert recipients(actions, "update") == ["p-cpc"]
    assert {k: (c.status, c.fence) for k, c in sim.st.cursors.items()} == {
        k: (c.status, c.fence) for k, c in cursors.items()
    }
    send = sends(actions)[0]
    assert send.extra["message"] == "Failover to the secondary site done"
    sent = "update sent to 1 people (reached): Failover to the secondary site done"
    assert logs(actions)[0].outcome == sent


def test_pending_are_those_being_tried_who_have_not_answered() -> None:
    sim = _started()
    actions = sim.step(Announce(by="coordinator", message="Convene moved", audience="pending"))
    assert sorted(recipients(actions, "update")) == sorted(LEADERS)
    everyone = sim.step(Announce(by="coordinator", message="Convene moved", audience="all"))
    assert sorted(recipients(everyone, "update")) == sorted(["p-cpc", *LEADERS])


def test_a_node_audience_is_that_node_and_the_nodes_under_it() -> None:
    sim = _started()
    sim.confirm("p-db-lead")  # database team leader confirms; the members are now being tried
    actions = sim.step(Announce(by="coordinator", message="DB restore from backup", audience="node:database"))
    assert sorted(recipients(actions, "update")) == ["p-db-lead", "p-dbms-admin", "p-sql-admin"]
    nobody = sim.step(Announce(by="coordinator", message="x", audience="node:no-such-node"))
    assert sends(nobody) == [] and logs(nobody)[0].problem == "nobody in the audience 'node:no-such-node'"


def test_revised_fields_travel_with_the_update_and_a_bad_audience_is_refused() -> None:
    sim = _started()
    event = Announce(by="c", message="New estimate", fields={"outage_estimate": "2 h more"})
    send = sends(sim.step(event))[0]
    assert send.extra == {"outage_estimate": "2 h more", "message": "New estimate"}
    with pytest.raises(ValidationError):
        Announce(by="c", message="x", audience="everyone")
