"""One point of the broadcast sweep, in a process of its own so that its memory is the daemon's alone
(see bench/sweep.py).

python -m bench.sweep_probe CONFIG_DIR DATABASE_URL SANDBOX_PORT STATS_PORT COUNT FIRST SEND_LIMIT_S
Starts the daemon on the plan in CONFIG_DIR (tree `bulk`, COUNT people), calls `activate("bulk")`
and watches, without waiting for the call to return, until COUNT messages have had a provider
answer or SEND_LIMIT_S seconds have passed since the start call (start-up has its own limit, kept
by the parent). Prints one JSON line once started (with the start call's epoch time), one with the
figures at the end, then exits at once: a broadcast cut off at its limit is not drained (that is
what the limit is for).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.harness import SandboxProcess, free_port, quiet_logs, settings_for, start_runtime
from bench.machine import rss_mb
from notifier import eventloop


async def main(
    config: Path, url: str, ports: tuple[int, int], count: int, first: int, send_limit: float
) -> dict[str, Any]:
    quiet_logs()
    sandbox = SandboxProcess(port=ports[0], stats_port=ports[1])
    t0 = time.perf_counter()
    runtime = await start_runtime(settings_for(url, config, sandbox, free_port()))
    engine = runtime.engine
    assert engine is not None
    figures: dict[str, Any] = {"start_s": time.perf_counter() - t0, "rss_start_mb": rss_mb(), "sent": 0}
    started_at = time.time()  # the start call, on the clock the sandbox stamps its arrivals with
    deadline = started_at + send_limit
    figures["limit_s"] = send_limit
    # for the parent, should it have to stop this process at the deadline itself (a long step
    # holding this event loop past it)
    print(json.dumps({**figures, "started_at": started_at}), flush=True)
    t1 = time.perf_counter()
    sent = 0
    call = asyncio.create_task(engine.activate("bulk", fields={"nature": "Sweep"}, started_by="bench"))
    while True:
        sent = engine.dispatcher.sent_count
        if call.done() and "activate_s" not in figures:
            call.result()  # an activation that failed is a failed point, not a slow one
            figures["activate_s"] = time.perf_counter() - t1
        if sent >= first and "first_sent_s" not in figures:  # the growth row: the first FIRST sent
            figures["first_sent_s"] = time.perf_counter() - t1
            figures["rss_first_sent_mb"] = rss_mb()
        if sent >= count or time.time() >= deadline:
            break
        await asyncio.sleep(0.01)
    figures["sent"] = sent
    figures["send_window_s"] = time.time() - started_at
    figures["complete"] = sent >= count
    figures["rss_end_mb"] = rss_mb()
    figures["peak_rss_mb"] = rss_mb(field="VmHWM")
    span = await sandbox.span()
    if span["first"] is not None:
        figures["first_sms_s"] = span["first"] - started_at
    if figures["complete"]:
        figures["last_sms_s"] = span["last"] - started_at
    return figures


async def probe(argv: list[str]) -> None:
    """Print the figures and leave without an orderly stop: a cut-off broadcast would keep sending
    (and its activation call keep planning) while it drained, past the deadline it was given."""
    try:
        figures = await main(Path(argv[0]), argv[1], (int(argv[2]), int(argv[3])), *_numbers(argv))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    print(json.dumps(figures), flush=True)
    os._exit(0)


def _numbers(argv: list[str]) -> tuple[int, int, float]:
    return int(argv[4]), int(argv[5]), float(argv[6])


if __name__ == "__main__":
    os.environ.setdefault("NOTIFIER_CONFIG", "/nonexistent/notifier.yaml")
    eventloop.run(probe(sys.argv[1:]))
