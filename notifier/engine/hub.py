"""An in-process publish/subscribe hub of activation events, fed by the stepper after each commit.

The console's live pages subscribe here instead of polling the database: the stepper calls
`StepHub.on_step` once a step has committed, the hub derives the same events the MQTT publisher
sends (`notifier.engine.stepevents.step_events`) and puts them in each interested subscriber's
queue. Publishing never blocks and never fails a step: a subscriber that does not keep up loses
its oldest events and is marked `lagged`, so it re-reads the activation once instead of trusting
a gap. Each event also carries `wall`, the wall-clock time (Unix seconds) it was published, so a
page can tell how long an update took to reach it (the activation's own times follow the engine's
clock, which tests run fast-forward).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from notifier.clock import Clock
from notifier.engine.stepevents import step_events
from notifier.engine.stepper import StepResult

ALL = "*"  # subscribe to every activation
MAX_QUEUED = 256  # per subscriber; older events are dropped beyond this (and the subscriber lags)


class Subscription:
    """One subscriber's queue of events for one activation (or `ALL`)."""

    def __init__(self, hub: StepHub, activation_id: str) -> None:
        self.hub = hub
        self.activation_id = activation_id
        self.lagged = False
        self.closed = False
        self._events: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()

    def put(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        if len(self._events) > MAX_QUEUED:
            self._events.popleft()
            self.lagged = True
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next_batch(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """The events queued since the last call (waiting up to `timeout` for the first one);
        an empty list on timeout or when the hub closed."""
        if not self._events and not self.closed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        batch = list(self._events)
        self._events.clear()
        return batch

    def cancel(self) -> None:
        self.hub._remove(self)


class StepHub:
    """Fan-out of step events to in-process subscribers (the console's SSE streams)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._subscribers: dict[str, set[Subscription]] = {}
        self.closed = False

    def on_step(self, result: StepResult) -> None:
        """Stepper listener (called after the commit): publish what the step changed."""
        targets = self._subscribers.get(result.activation_id, set()) | self._subscribers.get(ALL, set())
        if not targets:
            return  # nobody watching: no work at all
        events = step_events(
            result.activation_id, result.before, result.state, result.changed, self.clock.now()
        )
        wall = time.time()
        for event in events:
            event["wall"] = wall
            for subscription in targets:
                subscription.put(event)

    def subscribe(self, activation_id: str = ALL) -> Subscription:
        subscription = Subscription(self, activation_id)
        if self.closed:
            subscription.close()
        else:
            self._subscribers.setdefault(activation_id, set()).add(subscription)
        return subscription

    async def stream(
        self, activation_id: str = ALL, timeout: float = 15.0
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches of events as they come; an empty batch every `timeout` seconds of quiet (so a
        caller can send a keep-alive); ends when the hub closes."""
        subscription = self.subscribe(activation_id)
        try:
            while not subscription.closed:
                yield await subscription.next_batch(timeout)
        finally:
            subscription.cancel()

    def close(self) -> None:
        """End every subscription (the daemon is stopping: open event streams must not hold it)."""
        self.closed = True
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.close()
        self._subscribers.clear()

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _remove(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.activation_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscribers[subscription.activation_id]
