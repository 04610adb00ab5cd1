"""The dispatcher's in-flight window: rows claimed and not yet written back.

A row enters the window when it is claimed (by the dispatcher's claim, or by the step that created
it: `writes.py` reserves places first, the ids follow once the step commits) and leaves it only once
its result is stored (or it went back to the queue), so a crash can never duplicate more than the
window's size. `holding` names the rows in it, which tells a row of ours still under way from a
stray (a row `sending` under our name that no task holds: see `Dispatcher._heartbeat`).

A send whose outcome is unknown and that the provider can be asked about is *parked* while it is
looked up (`reconcile.Reconciler.verify`): it gives its place back, so a storm of 500s does not
throttle the other sends to one per lookup, but stays ours (held, its lease renewed) until its
verdict is stored. A crash can thus leave more rows `sending` than the window, but the others are
all rows the provider can be asked about, and the next start-up asks before any resend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class Window:
    def __init__(self, size: int, changed: asyncio.Event) -> None:
        self.size = size
        #: places taken (a reservation takes its places before its rows' ids are known)
        self.held = 0
        #: ids of the rows in the window, parked ones included
        self.holding: set[int] = set()
        #: ids of rows that gave their place back while their provider is asked about them
        self.parked: set[int] = set()
        self._changed = changed

    @property
    def free(self) -> int:
        return self.size - self.held

    @property
    def busy(self) -> int:
        """Rows of ours not yet written back, parked ones included."""
        return self.held + len(self.parked)

    def take(self, count: int, ids: Iterable[int] = ()) -> None:
        self.held += count
        self.holding.update(ids)

    def track(self, ids: Iterable[int]) -> None:
        """Name the rows of places already taken (a reservation's rows, once committed)."""
        self.holding.update(ids)

    def release(self, count: int, ids: Iterable[int] = ()) -> None:
        """Give places back (their rows' results are stored, or they are queued again); the claim
        loop wakes up to fill them. A parked row's place was given back already."""
        ids = set(ids)
        parked = ids & self.parked
        self.parked -= parked
        self.holding -= ids
        self.held -= count - len(parked)
        self._changed.set()

    def park(self, row_id: int) -> None:
        """Give a row's place back but keep it ours (see the module docstring)."""
        self.parked.add(row_id)
        self.held -= 1
        self._changed.set()
