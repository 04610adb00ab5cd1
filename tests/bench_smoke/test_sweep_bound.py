"""The broadcast sweep is bounded in time: a broadcast that cannot finish within its limit is cut
off there and reported (how many were sent, and the limit), instead of holding the run; on a busy
machine the daemon may still be loading its 20,000-person plan at the limit, and is stopped from
outside then (the same path a 100,000-person start-up takes when the run's budget is short)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench import sweep
from bench.harness import Stores
from notifier import eventloop

PEOPLE = 20_000  # even at the goal of 1,000 SMS/s, more than the limit below
LIMIT_S = 12.0


@pytest.mark.slow
def test_a_broadcast_that_cannot_finish_is_cut_off_at_its_limit(tmp_path: Path) -> None:
    async def run() -> tuple[dict[str, Any], float]:
        stores = Stores(tmp_path)
        started = time.time()
        try:
            points = await sweep.sweep(stores, ["sqlite"], (PEOPLE,), tmp_path, started + LIMIT_S)
        finally:
            stores.close()
        return points["sqlite"][0], time.time() - started

    point, took = eventloop.run(run())
    assert "error" not in point, point
    assert point["contacts"] == PEOPLE and point["complete"] is False, point
    assert isinstance(point["sent"], int) and point["sent"] < PEOPLE, point
    assert "last_sms_s" not in point and point["peak_rss_mb"] > 0, point
    # the probe stopped at most GRACE_S after its limit; then the sandbox and the store are closed
    assert took < LIMIT_S + sweep.GRACE_S + 10, took
