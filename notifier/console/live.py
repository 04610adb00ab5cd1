"""Server-Sent Events: the live parts of the Now and Activation pages, pushed as HTML fragments.

A stream subscribes to the engine's step hub; when a step changes the activation (or any, for the
Now page) it re-renders the live fragment once for the whole batch of events and sends it; htmx's
SSE extension swaps it in. Nothing polls the database: a quiet activation costs one keep-alive
comment every 15 s. Each fragment carries `data-published` (wall-clock time the first event of the
batch was published) so a page, or a test, can measure how long an update took to appear.
The session is re-checked on every send: a revoked token or an expired session ends the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from notifier.console.backend import Principal
from notifier.console.routes import ActivationId
from notifier.console.web import SignInRequired, backend_of, fragment, principal
from notifier.engine.hub import ALL

router = APIRouter(prefix="/console", include_in_schema=False)

KEEPALIVE_S = 15.0
#: at most one render per interval and stream: a burst of steps (a 10,000-person broadcast) costs a
#: few renders, and a single reply still shows at once
MIN_INTERVAL_S = {"live": 0.2, "now": 1.0}


def sse(event: str, html: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


async def _events(
    request: Request, activation_id: str, event: str, render: Callable[[Principal, float], Awaitable[str]]
) -> AsyncIterator[bytes]:
    hub = backend_of(request).engine.hub
    loop = asyncio.get_running_loop()
    rendered_at = 0.0
    yield b"retry: 2000\n\n"
    async for batch in hub.stream(activation_id, timeout=KEEPALIVE_S):
        try:
            who = await principal(request)
        except SignInRequired:
            yield sse("signedout", "")
            return
        if not batch:
            yield b": keep-alive\n\n"
            continue
        if activation_id != ALL and not any(e.get("activation_id") == activation_id for e in batch):
            continue
        published = min(float(e.get("wall", 0)) for e in batch)
        pause = rendered_at + MIN_INTERVAL_S[event] - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)  # later events of the burst wait in the subscription
        rendered_at = loop.time()
        yield sse(event, await render(who, published))


def _stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/activations/{activation_id}/live")
async def activation_live(
    request: Request, activation_id: str = ActivationId, who: Principal = Depends(principal)
) -> StreamingResponse:
    backend = backend_of(request)

    async def render(current: Principal, published: float) -> str:
        data = await backend.activation(activation_id, current)
        if data is None:
            return ""
        return fragment(request, "_activation_live.html", who=current, published=published, **data)

    return _stream(_events(request, activation_id, "live", render))


@router.get("/live")
async def now_live(request: Request, who: Principal = Depends(principal)) -> StreamingResponse:
    backend = backend_of(request)

    async def render(current: Principal, published: float) -> str:
        data = await backend.now_page(current)
        return fragment(request, "_now_live.html", who=current, published=published, **data)

    return _stream(_events(request, ALL, "now", render))
