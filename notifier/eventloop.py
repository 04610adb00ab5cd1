"""The event loop the daemon runs on: uvloop where it is installed, asyncio's own loop otherwise.

Every message costs the daemon several HTTP exchanges (the provider request, then status callbacks
and replies coming back), so the loop's own overhead is a large share of the work per message;
uvloop (libuv) and uvicorn's httptools parser roughly halve it. Tests run on the default loop, the
daemon subprocess tests on this one, so both are exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # e.g. Windows: uvloop does not build there
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
