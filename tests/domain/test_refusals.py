"""Refused requests kept one by one per source, status and minute; the rest counted (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.domain.refusals import Kept, RefusalSampler

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_first_of_each_window_are_kept_and_the_next_kept_says_how_many_were_not() -> None:
    sampler = RefusalSampler(keep=3, window=timedelta(minutes=1))
    seconds = [T0 + timedelta(seconds=s) for s in range(10)]
    kept = [sampler.admit("native", 401, at) for at in seconds]
    assert kept[:3] == [Kept(0, None)] * 3 and kept[3:] == [None] * 7
    # another status or source has its own count
    assert sampler.admit("native", 403, seconds[-1]) == Kept(0, None)
    assert sampler.admit("grafana", 401, seconds[-1]) == Kept(0, None)
    # the next window: kept again, naming the 7 that were only counted since 12:00:03
    later = sampler.admit("native", 401, T0 + timedelta(minutes=1))
    assert later == Kept(7, T0 + timedelta(seconds=3))
    assert later.note() == " (+7 more like it since 12:00:03Z, counted, not stored)"
    assert sampler.admit("native", 401, T0 + timedelta(minutes=1, seconds=1)) == Kept(0, None)
    assert Kept(0, None).note() == ""


def test_the_state_stays_one_record_per_source_and_status() -> None:
    sampler = RefusalSampler(keep=10, window=timedelta(minutes=1))
    for i in range(100_000):
        sampler.admit("pagerduty", 400, T0 + timedelta(milliseconds=i))
    assert len(sampler._spans) == 1
