"""The sandbox's own webhook client: what goes on the wire matches what aiohttp sent before, and the
answers it must understand (Content-Length, chunked, close-delimited, gzip, redirects, timeouts)."""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from yarl import URL

from notifier.sandbox import webhooks
from notifier.sandbox.webhooks import WebhookClient, WebhookError

FORM = b"MessageSid=SM1&MessageStatus=sent&To=%2B32470000001"
HEADERS = {
    "User-Agent": "TwilioProxy/1.1",
    "I-Twilio-Idempotency-Token": "0" * 32,
    "X-Twilio-Signature": "c2lnbmF0dXJl",
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
}
Answer = Callable[[bytes], Awaitable[bytes | None]]


class RawServer:
    """A loopback HTTP server that records each request's bytes and answers with canned bytes."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = await self.answer(request)
                if reply is None:
                    writer.close()
                    return
                writer.write(reply)
                await writer.drain()
                if b"Connection: close" in reply:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    async with aiohttp.ClientSession() as session:
        hooks = WebhookClient(session)
        yield hooks
        await hooks.close()


STARTED: list[RawServer] = []


@pytest.fixture(autouse=True)
async def _stop_servers() -> AsyncIterator[None]:
    yield
    while STARTED:
        await STARTED.pop().stop()


async def serve(answer: Answer) -> RawServer:
    server = RawServer(answer)
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    STARTED.append(server)
    return server


def ok(body: bytes, extra: str = "") -> Answer:
    async def answer(request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra.encode()) + body

    return answer


def parsed(request: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


async def test_request_on_the_wire_matches_aiohttp(client: WebhookClient) -> None:
    server = await serve(ok(b"<Response></Response>"))
    url = URL(server.url + "/webhooks/twilio/status?t=a.1&x=%7e")
    async with client.session.post(url, data=FORM, headers=HEADERS) as response:
        await response.text()
    reply = await client.send("POST", url, dict(HEADERS), FORM)
    assert reply.status == 200 and reply.body == "<Response></Response>"
    assert server.requests[0] == server.requests[1]  # byte for byte, header order included
    assert server.requests[1].startswith(b"POST /webhooks/twilio/status?t=a.1&x=~ HTTP/1.1\r\n")


async def test_get_without_body_matches_aiohttp(client: WebhookClient) -> None:
    server = await serve(ok(b"<Response/>"))
    url = URL(server.url + "/voice?CallSid=CA1&From=%2B15005550006")
    headers = {k: v for k, v in HEADERS.items() if k != "Content-Type"}
    async with client.session.get(url, headers=headers) as response:
        await response.text()
    await client.send("GET", url, dict(headers), None)
    assert server.requests[0] == server.requests[1]


async def test_connections_are_kept_alive_and_reused(client: WebhookClient) -> None:
    server = await serve(ok(b"fine"))
    for _ in range(5):
        assert (await client.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)).body == "fine"
    assert server.connections == 1


async def test_connection_close_is_honoured(client: WebhookClient) -> None:
    server = await serve(ok(b"bye", "Connection: close\r\n"))
    for _ in range(3):
        assert (await client.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)).body == "bye"
    assert server.connections == 3


async def test_chunked_and_close_delimited_and_gzip_bodies(client: WebhookClient) -> None:
    async def chunked(request: bytes) -> bytes:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head + b"5;x=1\r\n<Resp\r\n6\r\nonse/>\r\n0\r\n\r\n"

    async def until_close(request: bytes) -> bytes:
        head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\nConnection: close\r\n"
        return head + b"\r\ncaf\xe9"

    packed = gzip.compress("<Say>Ça marche</Say>".encode())
    zipped = ok(packed, "Content-Encoding: gzip\r\nContent-Type: text/xml\r\n")
    answers = [(chunked, "<Response/>"), (until_close, "café"), (zipped, "<Say>Ça marche</Say>")]
    for answer, expected in answers:
        server = await serve(answer)
        reply = await client.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)
        assert (reply.status, reply.body) == (200, expected)


async def test_interim_answer_is_skipped_and_no_content_has_no_body(client: WebhookClient) -> None:
    async def early_hints(request: bytes) -> bytes:
        return b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"

    server = await serve(early_hints)
    reply = await client.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)
    assert (reply.status, reply.body) == (204, "")


@pytest.mark.parametrize(("status", "method", "has_body"), [(302, "GET", False), (307, "POST", True)])
async def test_redirects_follow_aiohttp_rules(
    client: WebhookClient, status: int, method: str, has_body: bool
) -> None:
    async def answer(request: bytes) -> bytes:
        if b" /moved " in request.split(b"\r\n", 1)[0]:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhere"
        return b"HTTP/1.1 %d Moved\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n" % status

    server = await serve(answer)
    reply = await client.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)
    line, headers, body = parsed(server.requests[-1])
    assert reply.body == "here" and line.startswith(f"{method} /moved ")
    assert headers["x-twilio-signature"] == HEADERS["X-Twilio-Signature"]
    assert (body == FORM) is has_body


async def test_credentials_in_the_url_go_through_aiohttp(client: WebhookClient) -> None:
    server = await serve(ok(b"ok"))
    url = URL(server.url.replace("http://", "http://user:secret@") + "/s")
    await client.send("POST", url, dict(HEADERS), FORM)
    expected = "Basic " + base64.b64encode(b"user:secret").decode()
    assert parsed(server.requests[0])[1]["authorization"] == expected


async def test_unreachable_silent_and_broken_targets(
    client: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "TIMEOUT", aiohttp.ClientTimeout(total=0.3, connect=0.2))
    monkeypatch.setattr(webhooks, "SWEEP_SECONDS", 0.05)

    async def silent(request: bytes) -> bytes:
        await asyncio.sleep(5)
        return b""

    async def hang_up(request: bytes) -> None:
        return None

    async def garbage(request: bytes) -> bytes:
        return b"SMTP/1.0 nonsense\r\n\r\n"

    closed = await serve(ok(b""))
    closed_url = URL(closed.url + "/s")
    await closed.stop()
    with pytest.raises(WebhookError, match="Cannot connect"):
        await client.send("POST", closed_url, dict(HEADERS), FORM)
    with pytest.raises(TimeoutError):
        await client.send("POST", URL((await serve(silent)).url + "/s"), dict(HEADERS), FORM)
    with pytest.raises(WebhookError, match="Server disconnected"):
        await client.send("POST", URL((await serve(hang_up)).url + "/s"), dict(HEADERS), FORM)
    with pytest.raises(WebhookError, match="Invalid HTTP response"):
        await client.send("POST", URL((await serve(garbage)).url + "/s"), dict(HEADERS), FORM)


async def test_idle_connection_closed_by_the_server_is_replaced(client: WebhookClient) -> None:
    server = await serve(ok(b"again"))
    url = URL(server.url + "/s")
    await client.send("POST", url, dict(HEADERS), FORM)
    for conn in client._idle[("127.0.0.1", url.port or 0)]:
        assert conn.transport is not None
        conn.transport.close()  # as a server's keep-alive timeout would, seen from this side
    await asyncio.sleep(0.05)
    assert (await client.send("POST", url, dict(HEADERS), FORM)).body == "again"
    assert server.connections == 2


def test_works_on_uvloop() -> None:
    """The daemon may run the sandbox on uvloop (notifier serve/demo), whose transports differ."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        async def chunked(request: bytes) -> bytes:
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"

        server = await serve(chunked)
        async with aiohttp.ClientSession() as session:
            hooks = WebhookClient(session)
            for _ in range(3):
                assert (await hooks.send("POST", URL(server.url + "/s"), dict(HEADERS), FORM)).body == "ok"
            await hooks.close()
        assert server.connections == 1
        await STARTED.pop().stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
