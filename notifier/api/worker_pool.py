"""The webhook worker processes `notifier serve` starts (`webhooks.workers`), restarted if one dies.

Each is `python -m notifier.api.webhook_worker INDEX` with its settings on standard input, which
stays open: when the daemon ends, even by SIGKILL, the pipe closes and the workers stop after the
requests they are serving. A worker that dies is started again after a second; what it had spooled
is applied by the engine (`spool_applier.py`), what it had not yet answered was never promised.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import structlog

from notifier.api.webhook_worker import worker_input
from notifier.settings import Settings

log = structlog.get_logger("notifier.webhook_worker")

RESTART_PAUSE = 1.0


class WorkerPool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "notifier.api.webhook_worker",
            str(index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(worker_input(self.settings).encode() + b"\n")
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        if not line.startswith(b"ready"):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise RuntimeError(f"webhook worker {index} did not start")
        self.processes[index] = process
        self._tasks.append(
            asyncio.create_task(self._forward(process.stdout), name=f"webhook-worker-{index}-log")
        )
        return process

    @staticmethod
    async def _forward(stdout: asyncio.StreamReader) -> None:
        """The worker's log lines, onto the daemon's standard output (a full pipe would stop it)."""
        while line := await stdout.readline():
            sys.stdout.buffer.write(line)
            sys.stdout.flush()

    async def start(self) -> None:
        indexes = range(self.settings.webhooks.workers)
        await asyncio.gather(*(self._spawn(index) for index in indexes))  # their imports take seconds
        for index in indexes:
            self._tasks.append(asyncio.create_task(self._watch(index), name=f"webhook-worker-{index}"))
        log.info("webhook workers started", workers=len(self.processes), port=self.settings.webhook_port())

    async def _watch(self, index: int) -> None:
        while not self._stopping:
            process = self.processes[index]
            code = await process.wait()
            if self._stopping:
                return
            log.error("webhook worker ended; starting it again", worker=index, code=code)
            self.restarts += 1
            await asyncio.sleep(RESTART_PAUSE)
            with contextlib.suppress(Exception):
                await self._spawn(index)

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for process in self.processes.values():
            if process.returncode is None and process.stdin is not None:
                process.stdin.close()  # the worker's signal to finish its requests and stop
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
