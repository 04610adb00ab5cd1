"""The report's figures match the scripted SEED outage exactly (times in tests/reports/scenario.py)."""

from __future__ import annotations

from datetime import timedelta

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import AttemptOutcome, Cancel, Start
from notifier.domain.plan import ChannelKind
from notifier.domain.planner import initial_state
from notifier.reports.figures import compute, stats, summarize
from notifier.reports.model import LevelFigure
from notifier.reports.tables import summary_values
from tests.reports.scenario import T0, Driver, play_quick_drill, play_seed_outage, seed_snapshot

MIN = 60


def test_seed_outage_counts_and_reach_rate() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    counts = data.counts
    assert (counts.notified, counts.confirmed, counts.declined, counts.unreachable) == (15, 12, 1, 2)
    assert (counts.pending, counts.stopped) == (0, 0)
    assert data.reach_rate == 80.0
    assert (counts.nodes, counts.nodes_acknowledged, counts.nodes_declined, counts.nodes_unreachable) == (
        14,
        12,
        0,  # the SQL admin declined and nobody stood in: nobody acknowledged, so unreachable
        2,
    )
    # 13 answered, and the WAN engineer's voicemail took the message
    assert counts.reached == 14


def test_seed_outage_times_to_acknowledge() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    # confirmations at 1,2,3,4,5,6,7,8,9,14,16,17 minutes: median (6+7)/2, worst 17
    assert (data.ack_from_start.count, data.ack_from_start.median_s, data.ack_from_start.worst_s) == (
        12,
        6 * MIN + 30,
        17 * MIN,
    )
    # from each person's first notification: 1,1,2,2,2,3,3,3,3,4,6,6
    assert (data.ack_from_notified.median_s, data.ack_from_notified.worst_s) == (3 * MIN, 6 * MIN)
    people = {p.person_id: p for p in data.people}
    assert people["p-db-alt"].ack_from_start_s == 14 * MIN
    assert people["p-db-alt"].ack_from_notified_s == 2 * MIN  # notified when the leader was exhausted at 12
    assert people["p-lan-admin"].attempts == 2  # its SMS wait ran out; confirmed during the call
    assert data.levels == (
        LevelFigure(level=0, nodes=1, acknowledged=1, median_s=1 * MIN, worst_s=1 * MIN),
        LevelFigure(level=1, nodes=4, acknowledged=4, median_s=3 * MIN + 30, worst_s=14 * MIN),
        LevelFigure(level=2, nodes=9, acknowledged=7, median_s=8 * MIN, worst_s=17 * MIN),
    )
    nodes = {n.key: n for n in data.nodes}
    assert (nodes["database"].ack_from_start_s, nodes["database"].ack_from_notified_s) == (14 * MIN, 13 * MIN)
    assert nodes["telecom.wan-engineer"].status == "unreachable"
    assert nodes["database.sql-admin"].status == "unreachable"


def test_seed_outage_completes_within_the_limit() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    assert (data.completion_s, data.time_limit_s, data.verdict) == (
        18 * MIN,
        30 * MIN,
        "PASS WITH EXCEPTIONS",
    )
    assert data.verdict_reason.startswith("completed in 18m, within the prescribed 30m")


def test_over_the_limit_is_a_fail() -> None:
    driver = play_seed_outage(seed_snapshot(time_limit=timedelta(minutes=15)))
    data = compute(driver.record(), driver.log, [])
    assert (data.completion_s, data.time_limit_s, data.verdict) == (18 * MIN, 15 * MIN, "FAIL")
    assert "over the prescribed 15m" in data.verdict_reason
    assert any(entry.step == "time limit passed" and entry.offset_s == 15 * MIN for entry in data.timeline)


def test_the_two_unreachable_are_named_with_their_reasons() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    missed = {m.name: m.reasons for m in data.unreachable}
    assert list(missed) == ["Dirk Database", "Wim Wan"]
    dirk, wim = missed["Dirk Database"], missed["Wim Wan"]
    assert dirk[0].startswith("SMS to +3247*****") and dirk[0].endswith("invalid number (error 21211)")
    assert dirk[1].endswith("no answer") and dirk[2] == "email to d***@example.org: sent, no acknowledgement"
    assert wim[0].endswith("opted out of SMS (error 21610)")
    assert wim[1].endswith("answering machine (not an acknowledgement)")
    assert "+32470100" not in str(data.model_dump())  # no full number anywhere in the figures


def test_findings_are_actions() -> None:
    driver = play_seed_outage(seed_snapshot())
    actions = [f.action for f in compute(driver.record(), driver.log, []).findings]
    assert actions[0].startswith("Update the mobile number of Dirk Database (+3247*****")
    assert actions[1].startswith("Ask Wim Wan to text START")
    assert "Appoint an alternate for Sql Admin: its only holder declined" in actions[2]
    assert "Appoint an alternate for Wan Engineer: its only holder could not be reached" in actions[3]
    assert len(actions) == 4


def test_open_activation_is_in_progress_and_counts_pending() -> None:
    snap = seed_snapshot()
    driver = Driver(snap)
    driver.step(Start())
    driver.at(1).confirm("p-cpc")
    data = compute(driver.record(), driver.log, [])
    assert data.verdict == "IN PROGRESS" and data.completion_s is None
    assert (data.counts.notified, data.counts.confirmed, data.counts.pending) == (5, 1, 4)
    driver.at(40)  # past the time limit and every escalation
    assert compute(driver.record(), driver.log, []).verdict == "FAIL"


def test_cancelled_before_completion_fails_and_stops_the_waiting() -> None:
    driver = play_seed_outage(seed_snapshot(), stop_after=3)
    driver.step(Cancel(by="coordinator", reason="false alarm"))
    data = compute(driver.record(), driver.log, [])
    assert data.verdict == "FAIL" and data.verdict_reason == "cancelled before the completion rule was met"
    assert data.counts.stopped > 0 and data.counts.pending == 0


def test_trend_for_drills_only() -> None:
    drill = play_quick_drill(seed_snapshot(ActivationKind.DRILL), T0, pace=1.0)
    earlier = summarize(compute(drill.record("d1"), [], []))
    incident = play_seed_outage(seed_snapshot())
    assert compute(incident.record(), incident.log, [earlier]).trend == ()
    later = play_quick_drill(seed_snapshot(ActivationKind.DRILL), T0 + timedelta(days=91), pace=2.0)
    trend = compute(later.record("d2"), later.log, [earlier]).trend
    assert [row.activation_id for row in trend] == ["d1", "d2"]


def test_median_rounds_half_up_to_the_second() -> None:
    assert stats([1, 2]).median_s == 2  # 1.5 -> 2
    assert stats([]).median_s is None


def test_withdrawn_and_sent_after_stop_messages_are_counted() -> None:
    """Cancelled while two SMS were still queued: one was taken back, a sender already had the other."""
    snap = seed_snapshot()
    driver = Driver(snap, start=T0, now=T0, state=initial_state(snap, T0))
    driver.scripted = {(p, ChannelKind.SMS) for p in snap.people}  # nothing accepted yet: all queued
    driver.step(Start())
    driver.at(1).confirm("p-cpc")  # the four team leaders' SMS are queued behind the sender
    queued = [a.id for a in driver.state.attempts.values() if a.status == "queued"]  # type: ignore[union-attr]
    driver.step(Cancel(by="coordinator", reason="false alarm"))
    driver.step(AttemptOutcome(attempt_id=queued[0], outcome="accepted"))  # it was already going out
    data = compute(driver.record(), driver.log, [])
    # withdrawn: the leaders' SMS but the one that left, and the coordinator's own (they answered)
    assert (data.counts.withdrawn, data.counts.sent_after_stop) == (len(queued) - 1 + 1, 1)
    assert summary_values(data)["sent_after_stop"] == 1
