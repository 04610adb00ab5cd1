"""The dispatcher's in-flight window: rows claimed and not yet written back.

A row enters the window when it is claimed (by the dispatcher's claim, or by the step that created
it: `writes.py` reserves places first, the ids follow once the step commits) and leaves it only once
its result is stored (or it went back to the queue), so a crash can never duplicate more than the
window's size. `holding` names the rows in it, which tells a row of ours still under way from a
stray (a row `sending` under our name that no task holds: see `Dispatcher._heartbeat`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class Window:
    def __init__(self, size: int, changed: asyncio.Event) -> None:
        self.size = size
        #: places taken (a reservation takes its places before its rows' ids are known)
        self.held = 0
        #: ids of the rows in the window
        self.holding: set[int] = set()
        self._changed = changed

    @property
    def free(self) -> int:
        return self.size - self.held

    def take(self, count: int, ids: Iterable[int] = ()) -> None:
        self.held += count
        self.holding.update(ids)

    def track(self, ids: Iterable[int]) -> None:
        """Name the rows of places already taken (a reservation's rows, once committed)."""
        self.holding.update(ids)

    def release(self, count: int, ids: Iterable[int] = ()) -> None:
        """Give places back (their rows' results are stored, or they are queued again); the claim
        loop wakes up to fill them."""
        self.holding.difference_update(ids)
        self.held -= count
        self._changed.set()
