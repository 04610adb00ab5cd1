"""Run in its own process so its resident memory is the daemon's alone (see bench/memory.py).

python -m bench.memory_probe CONFIG_DIR DATABASE_URL SANDBOX_PORT TREES
Prints one JSON line: seconds and RSS after start, after activating TREES trees t0..t{n-1}, and
after their messages went out.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

from bench.harness import SandboxProcess, free_port, quiet_logs, settings_for, start_runtime
from bench.machine import rss_mb
from notifier import eventloop


async def main(config: Path, url: str, sandbox_port: int, trees: int) -> None:
    quiet_logs()
    sandbox = SandboxProcess(port=sandbox_port)
    port = free_port()
    t0 = time.perf_counter()
    runtime = await start_runtime(settings_for(url, config, sandbox, port))
    engine = runtime.engine
    assert engine is not None
    figures = {"start_s": time.perf_counter() - t0, "rss_start_mb": rss_mb()}
    try:
        t1 = time.perf_counter()
        for i in range(trees):
            await engine.activate(f"t{i}", started_by="bench")
        figures["activate_s"] = time.perf_counter() - t1
        await engine.wait_idle(600)
        figures["all_sent_s"] = time.perf_counter() - t1
        gc.collect()
        figures["rss_live_mb"] = rss_mb()
        figures["sent"] = engine.dispatcher.sent_count
        print(json.dumps(figures), flush=True)
    finally:  # also when activating failed: stop the daemon's tasks the way the daemon does
        await runtime.stop(timeout=10)


if __name__ == "__main__":
    os.environ.setdefault("NOTIFIER_CONFIG", "/nonexistent/notifier.yaml")
    a = sys.argv[1:]
    eventloop.run(main(Path(a[0]), a[1], int(a[2]), int(a[3])))
