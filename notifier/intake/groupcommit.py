"""Group commit for the MQTT intake: alerts that arrive while a group is being stored are stored
together next, in one transaction.

Split from `mqtt.py` (which handles the session, acknowledgements and dead letters) because this
part is only about the store: who is waiting, how big a group may be, and what happens when a group
fails (nothing was stored: a passing store outage is retried by every caller, anything else is
retried message by message so that one poisonous alert cannot hold back the rest).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import sqlalchemy.exc

from notifier.api.engine_api import AlertReceipt, StoreUnavailable
from notifier.domain.alerts import Alert

Submit = Callable[[list[Alert]], Awaitable[list[AlertReceipt]]]
"""Stores all the alerts (one receipt each, in order) or none: `EngineService.submit_alerts_together`."""

#: the store cannot take the alerts now; they are kept and tried again (pool timeout: no connection free)
NOT_NOW = (StoreUnavailable, sqlalchemy.exc.TimeoutError)


class GroupCommit:
    """Submissions made while a group is being stored are stored together next, in one call of
    `submit` (one transaction): a burst of messages costs a commit per group, not per message."""

    def __init__(self, submit: Submit, limit: int) -> None:
        self._submit = submit
        self.limit = limit
        self._waiting: deque[tuple[list[Alert], asyncio.Future[list[AlertReceipt]]]] = deque()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, alerts: list[Alert]) -> list[AlertReceipt]:
        future: asyncio.Future[list[AlertReceipt]] = asyncio.get_running_loop().create_future()
        self._waiting.append((alerts, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="mqtt-store")
        return await future  # cancelling the caller cancels the future: it leaves the queue

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()

    async def _flush(self) -> None:
        while self._waiting:
            group: list[tuple[list[Alert], asyncio.Future[list[AlertReceipt]]]] = []
            size = 0
            while self._waiting and (not group or size + len(self._waiting[0][0]) <= self.limit):
                alerts, future = self._waiting.popleft()
                if not future.done():
                    group.append((alerts, future))
                    size += len(alerts)
            if group:
                await self._store(group)

    async def _store(self, group: list[tuple[list[Alert], asyncio.Future[list[AlertReceipt]]]]) -> None:
        try:
            receipts = await self._submit([alert for alerts, _ in group for alert in alerts])
        except NOT_NOW as exc:
            for _, future in group:  # nothing stored: each caller waits and tries again
                _settle(future, exc=exc)
            return
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc=exc)
                return
            for entry in group:  # nothing stored; one of them may be poisonous: each on its own
                await self._store([entry])
            return
        except BaseException:
            for _, future in group:
                future.cancel()
            raise
        start = 0
        for alerts, future in group:
            _settle(future, receipts[start : start + len(alerts)])
            start += len(alerts)


def _settle(
    future: asyncio.Future[list[AlertReceipt]],
    result: list[AlertReceipt] | None = None,
    *,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # its caller went away (the session ended)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result or [])
