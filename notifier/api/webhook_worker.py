"""A webhook worker process: verifies Twilio webhooks, spools them, answers (issue 19).

Each SMS costs the daemon three signed status callbacks besides its send, and replies arrive in
bursts; parsing, checking the signature and answering them is CPU the engine's process need not
spend. `notifier serve` with `webhooks.workers: N` starts N of these processes on
`webhooks.port` (one listening socket each, `SO_REUSEPORT`: the kernel spreads the connections).
A worker checks the form and `X-Twilio-Signature` exactly as the daemon does (`twilio_webhooks`),
appends the verified webhook to its spool segment (`spool_segments.SegmentWriter`: fsync'd,
group-committed) and answers 200 only after that; the engine (`spool_applier.py`) applies the
segments in batches.

Status callbacks are answered with empty TwiML as soon as they are on disk. An SMS reply or a call
needs an answer that depends on the engine's state (which activation, the call's script), so the
worker waits up to `webhooks.answer_wait` for the engine's answer, which comes back over a unix
datagram socket (`<spool dir>/<worker>-<pid>.sock`, a JSON list of `{id, twiml}` per datagram);
when the engine is not running, or the store is down, or the wait runs out, it answers what it
can say alone (`spooled_twiml`, the same answers as the daemon's spool while the database is
down) and the entry is applied later.

Run: `python -m notifier.api.webhook_worker INDEX` with the settings as JSON on standard input
(`worker_input`); the worker stops when its standard input closes (its daemon ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from fastapi import HTTPException, Request, Response
from starlette.types import Receive, Scope, Send

from notifier.api.spool_segments import SegmentWriter
from notifier.api.twilio_webhooks import TWIML, TwilioWebhooks, spooled_twiml
from notifier.api.webhook_spool import encode_entry
from notifier.clock import RealClock
from notifier.settings import KEEP_ALIVE_SECONDS, Settings

log = structlog.get_logger("notifier.webhook_worker")

#: webhooks whose TwiML answer depends on the engine's state
ANSWERED = frozenset({"sms", "voice", "gather"})
#: the engine's datagram socket in the spool directory (a wake-up per group commit)
ENGINE_SOCKET = "engine.sock"


def spool_directory(settings: Settings) -> Path:
    """The workers' segments and sockets: one directory per daemon (its HTTP port), like the
    daemon's own webhook spool file."""
    return settings.state_directory() / f"webhooks-{settings.http_port}"


def worker_input(settings: Settings) -> str:
    """What a worker reads on its standard input: the settings it needs, secrets included (never
    on a command line, where `ps` shows them)."""
    data = settings.model_dump(
        mode="json",
        include={"public_base_url", "http_host", "http_port", "log_format"}
        | {"limits", "twilio", "spool", "webhooks"},
    )
    data["twilio"]["auth_token"] = settings.twilio.auth_token.get_secret_value()
    alternate = settings.twilio.alternate_auth_token
    data["twilio"]["alternate_auth_token"] = None if alternate is None else alternate.get_secret_value()
    data["webhooks"]["port"] = settings.webhook_port()
    data["state_dir"] = str(settings.state_directory())
    return json.dumps(data)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    ok = path == "/healthz"
    body = b'{"status":"ok"}' if ok else b'{"detail":"Not Found"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200 if ok else 404,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Worker:
    def __init__(self, settings: Settings, index: int) -> None:
        self.settings = settings
        self.directory = spool_directory(settings)
        self.name = f"w{index}"
        self.clock = RealClock()
        self.writer = SegmentWriter(self.directory, self.name, settings.spool.max_bytes, on_flush=self._wake)
        self.answers_path = self.directory / f"{self.name}-{os.getpid()}.sock"
        self.engine_path = str(self.directory / ENGINE_SOCKET)
        self.sock: socket.socket | None = None
        self.waiting: dict[int, asyncio.Future[str]] = {}
        self.numbers = itertools.count(1)
        self.engine_up = True
        self.app = TwilioWebhooks(_not_found, settings=settings, handler=self.handle)

    def open(self) -> None:
        self.writer.open()
        with contextlib.suppress(FileNotFoundError):
            self.answers_path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(str(self.answers_path))
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._answers)

    def close(self) -> None:
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            with contextlib.suppress(FileNotFoundError):
                self.answers_path.unlink()
        self.writer.close()

    def _wake(self) -> None:
        """After each group commit: tell the engine there is something to apply (and learn whether
        it is there to answer)."""
        assert self.sock is not None
        try:
            self.sock.sendto(b".", self.engine_path)
            self.engine_up = True
        except BlockingIOError:
            self.engine_up = True  # its queue is full of wake-ups: it is there, and busy
        except OSError:
            self.engine_up = False

    def _answers(self) -> None:
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(65_536)
            except (BlockingIOError, InterruptedError):
                return
            try:
                answers: list[dict[str, Any]] = json.loads(data)
                for answer in answers:
                    future = self.waiting.get(int(answer["id"]))
                    if future is not None and not future.done():
                        future.set_result(str(answer["twiml"]))
            except (ValueError, KeyError, TypeError):
                continue

    async def handle(
        self, request: Request, kind: str, token: str | None, params: dict[str, str]
    ) -> Response:
        number = next(self.numbers)
        future: asyncio.Future[str] | None = None
        if kind in ANSWERED:
            future = asyncio.get_running_loop().create_future()
            self.waiting[number] = future  # before the append: the answer may come at once
        try:
            line = encode_entry(
                kind, token, params, self.clock.now(), (str(self.answers_path), number) if future else None
            )
            try:
                stored = await self.writer.append(line)
            except OSError as exc:
                log.error("webhook spool write failed", error=repr(exc))
                raise HTTPException(status_code=503, detail="webhook spool unavailable") from None
            if not stored:
                raise HTTPException(status_code=503, detail="webhook spool full")
            if future is not None and self.engine_up:
                with contextlib.suppress(TimeoutError):
                    twiml = await asyncio.wait_for(future, self.settings.webhooks.answer_wait)
                    return Response(content=twiml, media_type=TWIML)
            return Response(
                content=spooled_twiml(kind, token, params, self.settings.twilio_webhook_base()),
                media_type=TWIML,
            )
        finally:
            self.waiting.pop(number, None)


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other workers may bind too (`SO_REUSEPORT`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


async def _stdin_closed() -> None:
    """Returns when standard input reaches its end (the daemon that started us ended)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling (ours stops it, then the worker cleans up)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings, index: int, watch_stdin: bool) -> None:
    worker = Worker(settings, index)
    worker.open()
    sock = listening_socket(settings.http_host, settings.webhook_port())
    config = uvicorn.Config(
        worker.app, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=KEEP_ALIVE_SECONDS
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    watcher: asyncio.Task[None] | None = None
    if watch_stdin:
        watcher = asyncio.create_task(_stdin_closed())
        watcher.add_done_callback(lambda _: setattr(server, "should_exit", True))
    log.info("webhook worker ready", worker=worker.name, port=settings.webhook_port())
    print(f"ready {worker.name} {os.getpid()}", flush=True)
    try:
        await server.serve(sockets=[sock])
    finally:
        if watcher is not None:
            watcher.cancel()
        worker.close()


def main(argv: list[str]) -> int:
    from notifier import eventloop
    from notifier.logging import configure_logging

    index = int(argv[0])
    settings = Settings(**json.loads(sys.stdin.readline()))
    configure_logging(settings.log_format, max_value_chars=settings.limits.log_value_chars)
    result: int = eventloop.run(_main(settings, index))
    return result


async def _main(settings: Settings, index: int) -> int:
    await serve(settings, index, watch_stdin=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
