"""Outgoing webhooks (status callbacks, inbound SMS, TwiML fetches) over pooled keep-alive HTTP/1.1.

Why not `aiohttp.ClientSession` for every one of them: a broadcast makes the sandbox post three
status callbacks per SMS, and aiohttp's client costs about 180 us of CPU per request on the 2-core
benchmark machine: 54% of the sandbox process in a 10,000-SMS broadcast, which made the sandbox, not
the client, the ceiling of the broadcast baseline (issue 7). This client does the common case (a
plain `http://` target answering with a Content-Length, chunked or close-delimited body) for well
under half of that, and puts the same bytes on the wire as aiohttp did (tests/sandbox/test_webhooks.py
compares them). A target over TLS or with credentials in its URL goes through the aiohttp session as
before, and so does a redirect after the first answer, with aiohttp's rules for the method and body.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import cast

import aiohttp
from yarl import URL

MAX_CONNECTIONS = 100  # aiohttp's default connector limit, what the sandbox posted with before
KEEPALIVE_SECONDS = 15.0  # aiohttp's default lifetime of an idle client connection
SWEEP_SECONDS = 0.5  # how often requests in flight are checked against their total timeout
TIMEOUT = aiohttp.ClientTimeout(total=15, connect=10)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
ACCEPT_ENCODING = "gzip, deflate"  # what aiohttp advertises without brotli or zstd installed


class WebhookError(Exception):
    """The target could not be reached or did not answer in HTTP/1.x."""


@dataclass
class Reply:
    status: int
    body: str


@dataclass
class _Head:
    status: int
    headers: dict[str, str]
    keep_alive: bool
    length: int | None
    chunked: bool


class _Connection(asyncio.Protocol):
    """One client connection; answers one request at a time, then goes back to the pool."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._no_body = False
        self._waiter: asyncio.Future[tuple[_Head, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's are not subclasses of asyncio.Transport, hence no isinstance).
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._advance(eof=True)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(WebhookError("Server disconnected"))

    def eof_received(self) -> bool:
        self.closed = True
        self._advance(eof=True)
        return False

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # nothing asked: a connection that talks out of turn is not reused
            return
        self._buffer += data
        self._advance(eof=False)

    def request(self, data: bytes, no_body: bool) -> asyncio.Future[tuple[_Head, bytes]]:
        assert self.transport is not None
        self._buffer.clear()
        self._head, self._no_body = None, no_body
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def fail(self, exc: BaseException) -> None:
        """Give up on the answer being awaited (a timeout): the connection is not reused."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def _advance(self, eof: bool) -> None:
        """Resolve the waiter once the buffer holds a whole response (or fail it)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            self._finish(waiter, eof)
        except (ValueError, UnicodeDecodeError) as exc:
            waiter.set_exception(WebhookError(f"Invalid HTTP response: {exc}"))
            self.close()

    def _finish(self, waiter: asyncio.Future[tuple[_Head, bytes]], eof: bool) -> None:
        while self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = _parse_head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
            if 100 <= head.status < 200:
                continue  # an interim answer (103 Early Hints): the real one follows
            self._head = head
        head = self._head
        body: bytes | None
        if self._no_body or head.status in (204, 304):
            body = b""
        elif head.chunked:
            body = _dechunk(self._buffer)
        elif head.length is not None:
            body = bytes(self._buffer[: head.length]) if len(self._buffer) >= head.length else None
            head.keep_alive = head.keep_alive and len(self._buffer) <= head.length
        else:
            head.keep_alive = False
            body = bytes(self._buffer) if eof else None
        if body is None:
            if eof:
                waiter.set_exception(WebhookError("Response payload is not completed"))
            return
        waiter.set_result((head, body))


def _parse_head(raw: bytes) -> _Head:
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"bad status line {lines[0][:40]!r}")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line[:40]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = None if chunked or "content-length" not in headers else int(headers["content-length"])
    return _Head(status, headers, keep_alive, length, chunked)


def _dechunk(buffer: bytearray) -> bytes | None:
    """The body of a complete chunked payload, or None while it is still arriving."""
    out = bytearray()
    at = 0
    while True:
        end = buffer.find(b"\r\n", at)
        if end < 0:
            return None
        size = int(bytes(buffer[at:end]).split(b";", 1)[0].strip(), 16)
        at = end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            return bytes(out) if trailer_end >= 0 else None
        if len(buffer) < at + size + 2:
            return None
        out += buffer[at : at + size]
        at += size + 2


def _text(head: _Head, body: bytes) -> str:
    encoding = head.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate") and body:
        try:
            body = zlib.decompress(body, 47)  # gzip or zlib wrapper, detected from the header
        except zlib.error:
            try:
                body = zlib.decompress(body, -15)  # bare deflate, as some servers send it
            except zlib.error as exc:
                raise WebhookError(f"Can not decode content-encoding: {encoding}") from exc
    charset = "utf-8"
    for param in head.headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class WebhookClient:
    """Keep-alive connections per host and port, at most `limit` requests at a time.

    Timeouts are aiohttp's `total=15, connect=10` (waiting for a free slot counts as connecting).
    The total is enforced by a sweep over the requests in flight every `SWEEP_SECONDS` rather than
    a timer per request, which cost about 8 us of the ~80 us a callback costs in all.
    """

    def __init__(self, session: aiohttp.ClientSession, limit: int = MAX_CONNECTIONS) -> None:
        self.session = session
        self._gate = asyncio.Semaphore(limit)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._busy: dict[_Connection, float] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    async def send(self, method: str, url: URL, headers: dict[str, str], body: bytes | None) -> Reply:
        """Send one request and read the whole answer; `headers` without Host or Content-Length."""
        if url.scheme != "http" or url.user is not None or url.password is not None:
            return await self._with_aiohttp(method, url, headers, body, MAX_REDIRECTS)
        head, raw = await self._exchange(method, url, headers, body)
        location = head.headers.get("location") or head.headers.get("uri")
        if head.status in REDIRECTS and location:
            method, body = _redirected(head.status, method, body)
            return await self._with_aiohttp(method, url.join(URL(location)), headers, body, MAX_REDIRECTS - 1)
        return Reply(head.status, _text(head, raw))

    async def _exchange(
        self, method: str, url: URL, headers: dict[str, str], body: bytes | None
    ) -> tuple[_Head, bytes]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        connect_by = started + (TIMEOUT.connect or 0)
        if self._gate.locked():
            async with asyncio.timeout_at(connect_by):
                await self._gate.acquire()
        else:
            await self._gate.acquire()
        try:
            key = (url.raw_host or "", url.port or 80)
            conn = await self._connection(loop, key, connect_by)
            # The same bytes as aiohttp: Host, the caller's headers, then aiohttp's defaults.
            lines = [f"{method} {url.raw_path_qs} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            lines += ["Accept: */*", f"Accept-Encoding: {ACCEPT_ENCODING}"]
            payload = b"" if body is None else body
            if body is not None or method in ("POST", "PUT", "PATCH"):
                lines.append(f"Content-Length: {len(payload)}")
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + payload
            self._watch(loop, conn, started + (TIMEOUT.total or 0))
            try:
                head, raw = await conn.request(data, no_body=method == "HEAD")
            except BaseException:
                conn.close()
                raise
            finally:
                del self._busy[conn]
            if head.keep_alive and not conn.closed:
                conn.idle_since = loop.time()
                self._idle.setdefault(key, []).append(conn)
            else:
                conn.close()
            return head, raw
        finally:
            self._gate.release()

    async def _connection(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, int], connect_by: float
    ) -> _Connection:
        idle = self._idle.get(key)
        now = loop.time()
        while idle:
            conn = idle.pop()
            fresh = now - conn.idle_since <= KEEPALIVE_SECONDS
            if fresh and not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
            conn.close()
        try:
            async with asyncio.timeout_at(connect_by):
                _, conn = await loop.create_connection(_Connection, key[0], key[1])
        except OSError as exc:
            raise WebhookError(f"Cannot connect to host {key[0]}:{key[1]} [{exc}]") from exc
        return conn

    def _watch(self, loop: asyncio.AbstractEventLoop, conn: _Connection, deadline: float) -> None:
        self._busy[conn] = deadline
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_SECONDS, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for conn in [conn for conn, deadline in self._busy.items() if deadline <= now]:
            conn.fail(TimeoutError())
        self._sweeper = loop.call_later(SWEEP_SECONDS, self._sweep, loop) if self._busy else None

    async def _with_aiohttp(
        self, method: str, url: URL, headers: dict[str, str], body: bytes | None, max_redirects: int
    ) -> Reply:
        request = self.session.request(
            method, url, data=body, headers=headers, timeout=TIMEOUT, max_redirects=max_redirects
        )
        async with request as response:
            return Reply(response.status, await response.text())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connections in self._idle.values():
            for conn in connections:
                conn.close()
        self._idle.clear()


def _redirected(status: int, method: str, body: bytes | None) -> tuple[str, bytes | None]:
    """aiohttp's rule: 303, and 301/302 after a POST, become a GET without a body."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET", None
    return method, body
