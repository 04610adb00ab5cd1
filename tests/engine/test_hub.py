"""The step hub: what the stepper publishes after a commit reaches the subscribers that asked for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from notifier.clock import RealClock
from notifier.domain.state import ActivationState, NodeState
from notifier.engine.hub import ALL, MAX_QUEUED, StepHub
from notifier.engine.stepper import StepResult

AT = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


def result(activation_id: str, before: str, after: str) -> StepResult:
    def state(node_status: str) -> ActivationState:
        return ActivationState(
            status="open",
            started=True,
            started_at=AT,
            nodes={"iscp-coordinator": NodeState(status=node_status)},  # type: ignore[arg-type]
        )

    return StepResult(
        activation_id, state(after), before=state(before), changed={"nodes": ("iscp-coordinator",)}
    )


async def test_subscribers_get_the_events_of_their_activation_or_of_all() -> None:
    hub = StepHub(RealClock())
    one, everything, other = hub.subscribe("a1"), hub.subscribe(ALL), hub.subscribe("a2")
    hub.on_step(result("a1", "pending", "notifying"))
    got = await one.next_batch(1)
    assert [(e["event"], e["node"], e["status"]) for e in got] == [("node", "iscp-coordinator", "notifying")]
    assert got[0]["wall"] > 0  # published at, wall-clock seconds (for the live-update latency)
    assert await everything.next_batch(1) == got
    assert await other.next_batch(0.05) == []


async def test_events_that_arrive_together_come_in_one_batch() -> None:
    hub = StepHub(RealClock())
    sub = hub.subscribe("a1")
    hub.on_step(result("a1", "pending", "notifying"))
    hub.on_step(result("a1", "notifying", "acknowledged"))
    assert [e["status"] for e in await sub.next_batch(1)] == ["notifying", "acknowledged"]


async def test_a_slow_subscriber_loses_old_events_and_knows_it() -> None:
    hub = StepHub(RealClock())
    sub = hub.subscribe("a1")
    for _ in range(MAX_QUEUED + 5):
        hub.on_step(result("a1", "pending", "notifying"))
    assert len(await sub.next_batch(1)) == MAX_QUEUED and sub.lagged


async def test_nobody_watching_costs_nothing_and_cancelled_subscriptions_are_gone() -> None:
    hub = StepHub(RealClock())
    sub = hub.subscribe("a1")
    sub.cancel()
    assert hub.subscribers == 0
    hub.on_step(result("a1", "pending", "notifying"))
    assert await sub.next_batch(0.05) == []


async def test_closing_the_hub_ends_every_stream() -> None:
    hub = StepHub(RealClock())
    batches: list[list[object]] = []

    async def consume() -> None:
        async for batch in hub.stream("a1", timeout=5):
            batches.append(batch)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    hub.on_step(result("a1", "pending", "notifying"))
    await asyncio.sleep(0.05)
    hub.close()
    await asyncio.wait_for(task, 2)
    assert len(batches[0]) == 1 and hub.subscribers == 0
    assert hub.subscribe("a1").closed  # a late subscriber ends at once
