"""Clocks. Everything that waits takes a clock so tests can run time faster than the wall.

`ScaledClock` runs `scale` times faster than real time while staying monotonic; because it is
derived from the wall clock it works across processes (a daemon subprocess and the sandbox can
share a start instant and a scale through the environment) and with real sockets.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock's time."""
        ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Clock time = origin + (wall time since `epoch`) * scale."""

    def __init__(self, scale: float, origin: datetime | None = None, epoch: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("clock scale must be positive")
        self.scale = scale
        self.epoch = time.time() if epoch is None else epoch
        self.origin = origin or datetime.fromtimestamp(self.epoch, UTC)

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.epoch) * self.scale)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


async def sleep_until(clock: Clock, when: datetime) -> None:
    await clock.sleep((when - clock.now()).total_seconds())


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC: SQLite hands back naive datetimes, and all we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
