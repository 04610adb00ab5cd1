"""`notifier serve`: the runtime under signal handling, systemd notifications and a bounded stop.

SIGTERM/SIGINT drain in-flight sends and exit within `shutdown_timeout`; SIGHUP reloads plan and
call trees after validating them (an invalid edit keeps the running configuration). The watchdog
is only fed while the engine's tasks are alive, so systemd restarts a daemon whose core has died.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from notifier import systemd
from notifier.runtime import Runtime, StartupError, make_clock
from notifier.settings import Settings

log = structlog.get_logger("notifier.daemon")


async def serve(settings: Settings, shutdown_timeout: float = 10.0) -> int:
    runtime = Runtime(settings, make_clock(settings))
    try:
        await runtime.start()
    except StartupError as exc:
        log.error("cannot start", reason=str(exc))
        print(f"error: {exc}", flush=True)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def on_hangup() -> None:
        task = asyncio.create_task(_reload(runtime))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    systemd.notify(f"READY=1\nSTATUS=serving on {settings.http_host}:{settings.http_port}")
    log.info("ready", http=f"{settings.http_host}:{settings.http_port}", sandbox=settings.sandbox)
    watchdog = asyncio.create_task(_watchdog(runtime, stop))
    core = [t for t in runtime.engine._tasks] if runtime.engine else []
    exit_code = 0
    waiters = [asyncio.create_task(stop.wait()), *core, *runtime.tasks]
    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        failed = next(iter(done))
        log.error("a core task ended; stopping", task=failed.get_name(), error=repr(failed.exception()))
        exit_code = 1
    systemd.notify("STOPPING=1\nSTATUS=draining in-flight sends")
    log.info("stopping", timeout=shutdown_timeout)
    watchdog.cancel()
    await runtime.stop(timeout=shutdown_timeout)
    for task in waiters:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*waiters, return_exceptions=True)
    log.info("stopped")
    return exit_code


async def _reload(runtime: Runtime) -> None:
    systemd.notify("RELOADING=1")
    try:
        reloaded = await runtime.reload()
    except Exception as exc:  # a store hiccup during reload must not take the daemon down
        log.error("reload failed; the running configuration stays", error=repr(exc))
        reloaded = False
    status = "configuration reloaded" if reloaded else "reload refused; previous configuration in use"
    systemd.notify(f"READY=1\nSTATUS={status}")


async def _watchdog(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = systemd.watchdog_interval()
    if interval is None:
        return
    while not stop.is_set():
        engine_alive = runtime.engine is not None and all(not t.done() for t in runtime.engine._tasks)
        if engine_alive:
            systemd.notify("WATCHDOG=1")
        await asyncio.sleep(interval)
