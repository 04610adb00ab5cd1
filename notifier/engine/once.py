"""Each webhook applied once: receipts checked before, written with the effect (responses.py).

A webhook's receipt (provider SID + status, `notifier/store/receipts.py`) commits in the step that
applies it; a webhook whose receipt exists, or whose twin is being applied right now, is
acknowledged and ignored. A genuine reply or status callback replayed (by Twilio, a proxy, or our
own spool after a crash) is therefore neither stored nor acted on twice. A batch of spooled
webhooks reads its receipts in one query (`prefetch`) and is checked as a whole (`fresh`): a twin
later in the same batch is a replay too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any

import structlog

from notifier.engine.stepper import Stepper
from notifier.store import receipts

log = structlog.get_logger("notifier.responses")

#: a webhook's key: the provider's SID (None: it has none, and cannot be recognised) and its status
Key = tuple[str | None, str]


def _short(sid: str, status: str) -> tuple[str, str]:
    """The key as the receipts table keeps it (both cut to the columns' widths)."""
    return sid[:64], status[: receipts.STATUS_WIDTH]


class Once:
    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        #: webhooks being applied now, by (provider SID, status): a twin arriving meanwhile is a replay
        self._applying: set[tuple[str, str]] = set()
        #: replayed webhooks acknowledged and ignored since start
        self.replays_ignored = 0
        #: receipts read ahead for a batch of spooled webhooks (`prefetch`): SID -> statuses applied
        self._known: dict[str, set[str]] = {}

    async def prefetch(self, sids: Collection[str]) -> None:
        """Read the receipts of a batch of webhooks about to be applied (the webhook workers'
        spool) in one query, so that each one's check needs no read of its own. Called with none
        after the batch: the others read their own again."""
        self._known = {}
        if sids:
            async with self.stepper.db.connect() as conn:
                self._known = await receipts.statuses(conn, sids)

    def _replay(self, sid: str, status: str) -> None:
        self.replays_ignored += 1
        log.info("replayed webhook ignored", sid=sid, status=status)

    @contextlib.asynccontextmanager
    async def once(self, sid: str | None, status: str) -> AsyncIterator[bool]:
        """Yields False when the webhook (`sid`, `status`) was applied before or is being applied
        now (the caller acknowledges and ignores it); True when the caller should apply it."""
        if not sid:
            yield True
            return
        key = (sid, status)
        duplicate = key in self._applying
        known = self._known.get(sid[:64])
        if not duplicate and known is not None:
            duplicate = status[: receipts.STATUS_WIDTH] in known
        elif not duplicate:
            async with self.stepper.db.connect() as conn:  # a plain read, outside the write lock
                duplicate = await receipts.seen(conn, sid, status)
        if duplicate:
            self._replay(sid, status)
            yield False
            return
        self._applying.add(key)
        try:
            yield True
            if known is not None:  # applied: a twin later in the batch is a replay
                known.add(status[: receipts.STATUS_WIDTH])
        finally:
            self._applying.discard(key)

    @contextlib.asynccontextmanager
    async def fresh(self, keys: Sequence[Key]) -> AsyncIterator[list[bool]]:
        """`once` for several webhooks together: for each of `keys`, whether to apply it (False:
        applied before, being applied now, or a twin earlier in `keys`). The caller reports each
        one it applied with `applied` as soon as its step committed."""
        unknown = {sid[:64] for sid, _ in keys if sid and sid[:64] not in self._known}
        read: dict[str, set[str]] = {}
        if unknown:
            async with self.stepper.db.connect() as conn:
                read = await receipts.statuses(conn, unknown)
        verdicts: list[bool] = []
        taken: set[tuple[str, str]] = set()
        mine: set[tuple[str, str]] = set()
        for sid, status in keys:
            if not sid:
                verdicts.append(True)
                continue
            short = _short(sid, status)
            known = self._known.get(short[0], read.get(short[0], set()))
            if (sid, status) in self._applying or short in taken or short[1] in known:
                self._replay(sid, status)
                verdicts.append(False)
                continue
            taken.add(short)
            mine.add((sid, status))
            verdicts.append(True)
        self._applying |= mine
        try:
            yield verdicts
        finally:
            self._applying -= mine

    def applied(self, keys: Sequence[Key]) -> None:
        """These webhooks' steps committed: a twin in a batch read ahead before is a replay."""
        for sid, status in keys:
            if sid and (known := self._known.get(sid[:64])) is not None:
                known.add(status[: receipts.STATUS_WIDTH])

    def receipt(self, sid: str | None, status: str) -> Callable[[Any], Awaitable[None]] | None:
        """The write of the webhook's receipt, for the step that applies it (None: no SID)."""
        if not sid:
            return None

        async def write(conn: Any) -> None:
            await receipts.add(conn, sid, status, self.stepper.clock.now())

        return write
