"""Provider misbehaviour on demand: 429 bursts, rate and concurrency limits, 5xx, slow answers.

Why: the daemon must be provider-honest (DESIGN §6) — back off on 20429, never blindly retry a POST
that may have been sent. Those paths are only tested if the provider can be made to misbehave.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from notifier.sandbox.schema import TwilioError

TOO_MANY_REQUESTS = TwilioError(429, 20429, "Too Many Requests")
SERVER_ERROR = TwilioError(500, 20500, "Internal Server Error")
SERVICE_UNAVAILABLE = TwilioError(503, 20503, "Service Unavailable")


@dataclass
class Faults:
    """Scriptable faults for create requests (Messages.json and Calls.json POSTs).

    `rate_limit_per_second`/`rate_limit_burst` form a token bucket per account on the sandbox clock;
    `max_concurrency` counts requests still being answered (only meaningful with `slow_seconds`,
    which is wall time because client timeouts are wall time). `error_5xx_after_create` makes a 5xx
    happen after the resource was created, the case where a blind retry duplicates a message.
    `unavailable_ratio` answers 503/20503 before anything is created (a retry is safe). Refusing
    connections altogether for a while is `Sandbox.refuse_connections(seconds)`.
    """

    rate_limit_per_second: float | None = None
    rate_limit_burst: int = 10
    max_concurrency: int | None = None
    burst_429: int = 0
    error_5xx_ratio: float = 0.0
    error_5xx_after_create: bool = False
    slow_seconds: float = 0.0
    #: "Twilio is down": every REST request is answered 503 before anything is created
    twilio_down: bool = False
    unavailable_ratio: float = 0.0
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def next_429s(self, count: int) -> None:
        """The next `count` create requests get 429 / 20429, as in a provider-side burst."""
        self.burst_429 = count

    def take_burst(self) -> bool:
        if self.burst_429 > 0:
            self.burst_429 -= 1
            return True
        return False

    def roll_5xx(self) -> bool:
        return self.error_5xx_ratio > 0 and self._random.random() < self.error_5xx_ratio

    def roll_unavailable(self) -> bool:
        return self.unavailable_ratio > 0 and self._random.random() < self.unavailable_ratio


@dataclass
class TokenBucket:
    """Requests per second with a burst allowance, refilled from the given instants."""

    rate: float
    capacity: float
    tokens: float = -1.0
    last: datetime | None = None

    def allow(self, now: datetime) -> bool:
        if self.tokens < 0:
            self.tokens = self.capacity
        if self.last is not None:
            elapsed = max(0.0, (now - self.last).total_seconds())
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Limiter:
    """Per-account admission: concurrency and rate, answering 20429 when exceeded."""

    faults: Faults
    in_flight: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def admit(self, account_sid: str, now: datetime) -> None:
        """Raise the 429 Twilio would answer, or count the request as in flight."""
        faults = self.faults
        if faults.take_burst():
            raise TOO_MANY_REQUESTS
        in_flight = self.in_flight.get(account_sid, 0)
        if faults.max_concurrency is not None and in_flight >= faults.max_concurrency:
            raise TOO_MANY_REQUESTS
        if faults.rate_limit_per_second is not None:
            bucket = self.buckets.get(account_sid)
            if bucket is None or bucket.rate != faults.rate_limit_per_second:
                bucket = TokenBucket(faults.rate_limit_per_second, float(faults.rate_limit_burst))
                self.buckets[account_sid] = bucket
            if not bucket.allow(now):
                raise TOO_MANY_REQUESTS
        self.in_flight[account_sid] = self.in_flight.get(account_sid, 0) + 1

    def release(self, account_sid: str) -> None:
        self.in_flight[account_sid] = max(0, self.in_flight.get(account_sid, 1) - 1)
