"""Answers received but not applied yet: no deadline may overtake them (issue 12).

A reply is received the moment its webhook reaches the engine, but it is applied a little later:
its receipt is checked, its sender matched to the open activations, and its step waits for the
group commit (or, while the store is down or in a burst, in the webhook spool). A busy machine can
stretch that to seconds. If the deadline waiter fired meanwhile, a person who answered before
their acknowledgement deadline would be escalated (called) because of the engine's own backlog.

So the waiter asks `settled(now)` before it reads the deadlines due at `now`: it waits until every
answer received before `now` has been applied (its step committed, or it was found to be a replay
or for nobody). Answers received later do not hold it up, so a steady stream of replies cannot
starve the deadlines. A backlog that stops moving (a handler stuck, not just slow) holds the
deadlines for `stall` seconds at most; then they fire anyway and a warning is logged.

Sources other than the engine's own handlers (the webhook spool) add a function that returns the
arrival time of the oldest entry they still hold (`add_source`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime

import structlog

log = structlog.get_logger("notifier.arrivals")

#: seconds a backlog of answers may stand still before the deadlines behind it fire anyway
STALL = 10.0
_POLL = 0.05  # seconds between two looks at the sources while waiting


class Arrivals:
    def __init__(self) -> None:
        self._open: dict[int, datetime] = {}
        self._ids = itertools.count()
        self._sources: list[Callable[[], datetime | None]] = []
        self._done = asyncio.Event()
        #: times the deadlines waited for answers, and gave up waiting on a stuck backlog
        self.waits = 0
        self.stalls = 0

    @contextlib.contextmanager
    def receiving(self, at: datetime) -> Iterator[None]:
        """Around the handling of one answer received at `at`, until it is applied (or dropped)."""
        key = next(self._ids)
        self._open[key] = at
        try:
            yield
        finally:
            del self._open[key]
            self._done.set()

    def add_source(self, oldest: Callable[[], datetime | None]) -> None:
        self._sources.append(oldest)

    def oldest(self) -> datetime | None:
        """When the oldest answer still waiting to be applied was received (None: none waits)."""
        times = list(self._open.values())
        for source in self._sources:
            found = source()
            if found is not None:
                times.append(found)
        return min(times, default=None)

    def _behind(self, before: datetime) -> int:
        return sum(1 for at in self._open.values() if at < before)

    async def settled(self, before: datetime, stall: float = STALL) -> bool:
        """Wait until nothing received before `before` waits to be applied. False if that backlog
        stood still (its oldest answer unchanged and none of it applied) for `stall` seconds."""
        oldest = self.oldest()
        if oldest is None or oldest >= before:
            return True
        self.waits += 1
        loop = asyncio.get_running_loop()
        give_up = loop.time() + stall
        behind = self._behind(before)
        while oldest is not None and oldest < before:
            self._done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), timeout=_POLL)
            previous, oldest = oldest, self.oldest()
            was, behind = behind, self._behind(before)
            if oldest != previous or behind < was:
                give_up = loop.time() + stall  # it moves: a slow backlog is waited for, however long
            elif loop.time() >= give_up:
                self.stalls += 1
                log.warning(
                    "answers received before due deadlines are not being applied; firing the deadlines",
                    oldest=oldest.isoformat() if oldest else None,
                    stall_seconds=stall,
                )
                return False
        return True
