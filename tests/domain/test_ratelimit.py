"""Sender pool rates (DESIGN §6 Provider-honest): exact per-sender rate, spreading, 429 penalties."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.domain.ratelimit import Reservation, SenderPool, backoff

LONG_CODES = ("+15005550006", "+15005550007", "+15005550008")  # Twilio's reserved test numbers
TOL = 1e-9


def _by_sender(reservations: list[Reservation]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for r in reservations:
        out[r.sender].append(r.at)
    return out


def test_one_long_code_sends_one_segment_per_second() -> None:
    pool = SenderPool(LONG_CODES[:1], rate_per_sender=1.0)
    times = [pool.reserve(now=100.0).at for _ in range(60)]
    assert times[0] == pytest.approx(100.0)
    assert times[-1] - times[0] == pytest.approx(59.0)  # (N-1)/R
    assert all(b - a == pytest.approx(1.0) for a, b in itertools.pairwise(times))


@pytest.mark.parametrize(("k", "rate", "n"), [(1, 1.0, 10), (3, 1.0, 60), (2, 10.0, 101), (3, 0.5, 31)])
def test_pool_of_k_senders_gives_k_times_the_rate(k: int, rate: float, n: int) -> None:
    pool = SenderPool(LONG_CODES[:k], rate_per_sender=rate)
    reservations = [pool.reserve(now=0.0) for _ in range(n)]
    for times in _by_sender(reservations).values():
        assert times[-1] - times[0] == pytest.approx((len(times) - 1) / rate, abs=TOL)
    counts = [len(t) for t in _by_sender(reservations).values()]
    assert max(counts) - min(counts) <= 1  # spread evenly
    # the senders take turns: one send every 1/(k*R), so the batch ends after n-1 of those
    starts = sorted(r.at for r in reservations)
    assert starts[-1] == pytest.approx((n - 1) / (k * rate), abs=TOL)
    assert all(b - a == pytest.approx(1 / (k * rate), abs=TOL) for a, b in itertools.pairwise(starts))


def test_no_idle_gaps_and_no_bunching_when_work_arrives_over_time() -> None:
    pool = SenderPool(LONG_CODES[:2], rate_per_sender=1.0)
    first = [pool.reserve(now=0.0) for _ in range(4)]
    assert sorted(r.at for r in first) == [0.0, 0.5, 1.0, 1.5]  # turns, not pairs then a pause
    later = pool.reserve(now=10.0)  # idle since 2.0: starts at once, no burst credit beyond `burst`
    assert later.at == 10.0
    again = [pool.reserve(now=10.0) for _ in range(2)]
    assert sorted(r.at for r in again) == [10.5, 11.0]


def test_burst_allows_back_to_back_then_steady_rate() -> None:
    pool = SenderPool(("MG-short-code",), rate_per_sender=2.0, burst=5)
    times = [pool.reserve(now=0.0).at for _ in range(9)]
    assert times[:5] == [0.0] * 5
    assert times[5:] == pytest.approx([0.5, 1.0, 1.5, 2.0])


def test_multi_segment_cost_uses_more_of_the_rate() -> None:
    pool = SenderPool(LONG_CODES[:1], rate_per_sender=1.0)
    assert pool.reserve(0.0, cost=3).at == 0.0  # a 3-segment SMS
    assert pool.reserve(0.0).at == pytest.approx(3.0)


def test_penalise_moves_work_to_other_senders_and_waits() -> None:
    pool = SenderPool(LONG_CODES[:2], rate_per_sender=1.0)
    pool.penalise(LONG_CODES[0], until=30.0)
    picks = [pool.reserve(now=0.0) for _ in range(3)]
    assert [p.sender for p in picks] == [LONG_CODES[1]] * 3
    assert [p.at for p in picks] == [0.0, 1.0, 2.0]
    solo = SenderPool(LONG_CODES[:1], rate_per_sender=1.0)
    solo.reserve(0.0)
    solo.penalise(LONG_CODES[0], until=5.0)
    solo.penalise(LONG_CODES[0], until=2.0)  # a shorter penalty never shortens a longer one
    assert solo.reserve(0.0).at == 5.0
    assert solo.reserve(0.0).at == 6.0
    assert solo.earliest(0.0) == 7.0


@given(
    k=st.integers(1, 4),
    rate=st.floats(0.1, 100.0),
    arrivals=st.lists(st.floats(0.0, 1000.0), min_size=1, max_size=80),
)
def test_rate_is_never_exceeded_and_start_is_never_before_now(
    k: int, rate: float, arrivals: list[float]
) -> None:
    senders = tuple(f"+1500555{i:04d}" for i in range(k))
    pool = SenderPool(senders, rate_per_sender=rate)
    reservations = []
    for now in sorted(arrivals):
        r = pool.reserve(now)
        assert r.at >= now
        reservations.append(r)
    for times in _by_sender(reservations).values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 1 / rate - 1e-6 * max(1.0, times[-1]) for g in gaps)


def test_invalid_pools() -> None:
    with pytest.raises(ValueError):
        SenderPool((), 1.0)
    with pytest.raises(ValueError):
        SenderPool(("+15005550006", "+15005550006"), 1.0)
    with pytest.raises(ValueError):
        SenderPool(("+15005550006",), 0.0)
    with pytest.raises(ValueError):
        SenderPool(("+15005550006",), 1.0, burst=0)


def test_backoff_full_jitter_exponential_capped() -> None:
    assert backoff(1, 0.0) == 0.0
    assert backoff(1, 0.5) == pytest.approx(0.5)
    assert backoff(3, 0.5) == pytest.approx(2.0)  # 0.5 * 4
    assert backoff(10, 0.999, base=1.0, cap=60.0) == pytest.approx(59.94)
    assert backoff(10_000, 0.5, cap=30.0) == pytest.approx(15.0)  # no overflow
    with pytest.raises(ValueError):
        backoff(0, 0.5)
    with pytest.raises(ValueError):
        backoff(1, 1.0)
