"""The broadcast sweep is bounded in time, start-up and sending each by a limit of its own: a
broadcast that cannot finish within its sending limit is cut off there (counted from the start call,
however long the daemon took to start) and reported with how many were sent; a daemon still loading
its plan at its start-up limit is stopped from outside and reported as such, with its memory until
then."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench import sweep
from bench.harness import SandboxProcess, Stores
from notifier import eventloop

PEOPLE = 10_000  # even at the goal of 1,000 SMS/s, more than the sending limit below
SEND_LIMIT_S = 2.0


def _run(tmp_path: Path, start_limit: float, send_limit: float) -> tuple[dict[str, Any], float]:
    async def run() -> tuple[dict[str, Any], float]:
        stores = Stores(tmp_path)
        sandbox = SandboxProcess().start()
        started = time.time()
        try:
            point = await sweep._point(
                stores, "sqlite", PEOPLE, 100, tmp_path, sandbox, start_limit, send_limit
            )
        finally:
            sandbox.stop()
            stores.close()
        return point, time.time() - started

    return eventloop.run(run())


@pytest.mark.slow
def test_a_broadcast_that_cannot_finish_is_cut_off_at_its_sending_limit(tmp_path: Path) -> None:
    point, took = _run(tmp_path, start_limit=sweep.START_CAP_S, send_limit=SEND_LIMIT_S)
    assert "error" not in point, point
    assert point["complete"] is False and point["limit_s"] == SEND_LIMIT_S, point
    assert isinstance(point["sent"], int) and point["sent"] < PEOPLE, point
    assert "last_sms_s" not in point and point["peak_rss_mb"] > 0, point
    # the sending limit counts from the start call: start-up is measured apart and not taken from it
    assert point["start_s"] > 0 and point["send_window_s"] >= SEND_LIMIT_S, point
    assert took < point["start_s"] + SEND_LIMIT_S + 3 * sweep.GRACE_S + 5, (took, point)


@pytest.mark.slow
def test_a_start_up_past_its_limit_is_stopped_and_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the probe is stopped at its limit plus a grace; with the default grace of 5 s an idle machine
    # loads this plan within it (about 2 s since the plan loader lost its position maps), so the
    # grace is cut here to keep the start-up past the limit on any machine
    monkeypatch.setattr(sweep, "GRACE_S", 0.5)
    point, took = _run(tmp_path, start_limit=0.5, send_limit=SEND_LIMIT_S)
    assert point["start_done"] is False and point["start_limit_s"] == 0.5, point
    assert point["sent"] == 0 and "first_sms_s" not in point and point["peak_rss_mb"] > 0, point
    assert took < 0.5 + sweep.GRACE_S + 10, took
