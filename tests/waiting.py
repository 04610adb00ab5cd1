"""Waiting in async tests for something the system does by itself: bounded by events, not sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


async def until(
    check: Callable[[], Any], what: str = "condition", timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """Call `check` (a plain or an async function) until it returns something true, and return
    that; fail naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
