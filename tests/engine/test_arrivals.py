"""engine/arrivals.py: the deadline waiter lets answers received before it go first (issue 12)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from notifier.engine.arrivals import Arrivals

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_nothing_waiting_settles_at_once() -> None:
    arrivals = Arrivals()
    assert await arrivals.settled(T0, stall=0.01) is True
    assert arrivals.oldest() is None and arrivals.waits == 0


async def test_an_answer_received_before_waits_until_it_is_applied() -> None:
    arrivals = Arrivals()
    applied = asyncio.Event()
    order: list[str] = []

    async def reply() -> None:
        with arrivals.receiving(T0):
            await applied.wait()
            order.append("reply applied")

    task = asyncio.create_task(reply())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(arrivals.settled(T0 + timedelta(seconds=1)))
    await asyncio.sleep(0.2)
    assert not waiter.done() and arrivals.oldest() == T0
    applied.set()
    assert await waiter is True
    order.append("deadline fired")
    await task
    assert order == ["reply applied", "deadline fired"] and arrivals.waits == 1


async def test_answers_received_after_do_not_hold_the_deadlines() -> None:
    arrivals = Arrivals()
    with arrivals.receiving(T0 + timedelta(seconds=5)):
        assert await asyncio.wait_for(arrivals.settled(T0), timeout=1) is True


async def test_a_slow_backlog_is_waited_for_however_long_it_takes() -> None:
    """Each answer takes a while, the whole backlog longer than the stall bound: still waited for."""
    arrivals = Arrivals()

    async def reply(i: int) -> None:
        with arrivals.receiving(T0 + timedelta(milliseconds=i)):
            await asyncio.sleep(0.04 * (i + 1))

    tasks = [asyncio.create_task(reply(i)) for i in range(8)]
    await asyncio.sleep(0)
    assert await arrivals.settled(T0 + timedelta(seconds=1), stall=0.15) is True
    assert all(task.done() for task in tasks) and arrivals.stalls == 0


async def test_a_stuck_answer_holds_the_deadlines_only_for_the_stall_bound() -> None:
    arrivals = Arrivals()
    stuck = asyncio.Event()

    async def reply() -> None:
        with arrivals.receiving(T0):
            await stuck.wait()

    task = asyncio.create_task(reply())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await arrivals.settled(T0 + timedelta(seconds=1), stall=0.2) is False
    assert 0.2 <= loop.time() - began < 2 and arrivals.stalls == 1
    stuck.set()
    await task


async def test_a_source_such_as_the_webhook_spool_is_waited_for() -> None:
    arrivals = Arrivals()
    spooled: list[datetime] = [T0, T0 + timedelta(seconds=2)]
    arrivals.add_source(lambda: spooled[0] if spooled else None)

    release = asyncio.Event()

    async def drain() -> None:
        await asyncio.sleep(0.1)
        spooled.pop(0)  # the entry received before the deadline's time is applied
        await release.wait()
        spooled.pop(0)

    task = asyncio.create_task(drain())
    assert await arrivals.settled(T0 + timedelta(seconds=1), stall=1) is True
    # only what was received before the deadline's time was waited for
    assert spooled == [T0 + timedelta(seconds=2)]
    release.set()
    await task
