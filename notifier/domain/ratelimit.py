"""Per-sender send rates over a pool of senders, and the retry backoff for 429s.

Why. Twilio meters SMS per sender (a US long code sends 1 segment/s, a short code 100+); what we
hand over faster only waits in Twilio's queue, where `validity_period` may expire it. So the
dispatcher asks the pool *when* and *from which sender* the next send may start, and the pool
spreads the load: each send goes to the sender that can start earliest, so k senders give k times
the rate with no idle gaps while there is work. The pool also paces itself at k times the rate, so
that k senders take turns evenly (one send every 1/(k*rate) s) instead of all sending at once and
then all waiting a full interval: the same rate, without bursts and pauses.

How. Each sender is a GCRA (generic cell rate) bucket: `ready` is the theoretical time its bucket
empties. A send of `cost` segments may start at max(now, ready - (burst - 1) / rate, penalty) and
moves `ready` on by cost / rate. Over time this is exactly `rate` segments per second per sender,
with at most `burst` sent back to back. A rate-limit refusal puts a sender in the penalty box until a
given time (`penalise`). State is a plain object and time is passed in, so this is testable
without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reservation:
    sender: str
    at: float  # earliest start, in the caller's time base (seconds)


@dataclass
class _Bucket:
    ready: float = float("-inf")
    penalised_until: float = float("-inf")


@dataclass
class SenderPool:
    senders: tuple[str, ...]
    rate_per_sender: float  # segments (sends of cost 1) per second per sender
    burst: int = 1
    _buckets: dict[str, _Bucket] = field(init=False, repr=False)
    _pool: _Bucket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.senders:
            raise ValueError("a sender pool needs at least one sender")
        if len(set(self.senders)) != len(self.senders):
            raise ValueError("senders in a pool must be distinct")
        if self.rate_per_sender <= 0:
            raise ValueError("rate_per_sender must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._buckets = {sender: _Bucket() for sender in self.senders}
        self._pool = _Bucket()

    @property
    def interval(self) -> float:
        return 1.0 / self.rate_per_sender

    def _earliest(self, sender: str, now: float) -> float:
        bucket = self._buckets[sender]
        tolerance = (self.burst - 1) * self.interval
        return max(now, bucket.ready - tolerance, bucket.penalised_until)

    @property
    def _pool_interval(self) -> float:
        return self.interval / len(self.senders)

    def _paced(self, at: float) -> float:
        """`at`, or later if the pool as a whole is ahead of its pace (burst: as per sender)."""
        return max(at, self._pool.ready - (self.burst - 1) * self.interval)

    def earliest(self, now: float) -> float:
        """When the next send could start, without reserving it."""
        return self._paced(min(self._earliest(sender, now) for sender in self.senders))

    def reserve(self, now: float, cost: float = 1.0) -> Reservation:
        """Claim the earliest slot in the pool for one send of `cost` segments.

        Ties go to the sender whose bucket is emptiest, then to pool order, which spreads
        consecutive sends across the pool rather than piling them on the first sender.
        """
        if cost <= 0:
            raise ValueError("cost must be positive")
        sender = min(
            self.senders,
            key=lambda s: (self._earliest(s, now), self._buckets[s].ready),
        )
        at = self._paced(self._earliest(sender, now))
        bucket = self._buckets[sender]
        bucket.ready = max(bucket.ready, at) + cost * self.interval
        self._pool.ready = max(self._pool.ready, at) + cost * self._pool_interval
        return Reservation(sender, at)

    def penalise(self, sender: str, until: float) -> None:
        """Keep `sender` idle until `until` (the provider refused for rate: back off)."""
        bucket = self._buckets[sender]
        bucket.penalised_until = max(bucket.penalised_until, until)


def backoff(attempt: int, random_value: float, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): exponential, full jitter, capped.

    Full jitter (uniform in [0, min(cap, base * 2**(attempt-1))]) spreads the retries of many
    senders hit by the same 429 so they do not return in lockstep. `random_value` in [0, 1) is
    passed in so the function stays pure and tests are exact.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= random_value < 1.0:
        raise ValueError("random_value must be in [0, 1)")
    ceiling = cap if attempt > 64 else min(cap, base * 2.0 ** (attempt - 1))
    return random_value * ceiling
