"""`BodyLimits`: every request body is bounded before any handler reads it (docs/limits.md).

An ASGI layer in front of everything else (the Twilio webhooks and the API router):

* a query string above `limits.http_query_bytes` is answered 414;
* a declared `Content-Length` above the limit is answered 413 without reading a byte; a body that
  grows beyond it while arriving (chunked) is answered 413 as soon as it does;
* a JSON body sent to `/api/` is read here, within the JSON limits (`loads_bounded`: depth,
  number and field-name lengths), and refused with 400 (not JSON) or 422 (the path of what is
  beyond a limit) before FastAPI parses it; what was read is kept in the scope so the alert
  routes do not read it twice;
* a large body is read in a worker thread, so the event loop keeps answering `/healthz` and
  sending meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.domain.jsonlimits import JsonLimits, JsonRejected, loads_bounded, short_key
from notifier.settings import LimitSettings

#: the parsed JSON body, kept in the ASGI scope for the handlers
JSON_BODY = "notifier.json_body"
#: bodies larger than this are parsed in a worker thread
OFF_LOOP_BYTES = 64_000


def rejected_response(exc: JsonRejected) -> JSONResponse:
    error = {400: "invalid JSON", 413: "body too large", 414: "query too long", 422: "input beyond a limit"}
    return JSONResponse(
        status_code=exc.status, content={"error": error.get(exc.status, "invalid"), "problems": exc.problems}
    )


async def parse_json(body: bytes, limits: JsonLimits) -> Any:
    """`loads_bounded`, in a worker thread when the body is large."""
    if len(body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(loads_bounded, body, limits)
    return loads_bounded(body, limits)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return True  # FastAPI reads a body without a content type as JSON


class BodyLimits:
    def __init__(self, app: ASGIApp, limits: LimitSettings) -> None:
        self.app = app
        self.limits = limits

    def _max_bytes(self, path: str) -> int:
        if path.startswith("/webhooks/twilio/"):
            return self.limits.webhook_form_bytes
        return self.limits.http_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.limits.http_query_bytes:
            too_long = (
                f"query of {len(scope['query_string'])} bytes, more than {self.limits.http_query_bytes}"
            )
            await rejected_response(JsonRejected(414, [too_long]))(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self._max_bytes(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await rejected_response(_too_large(declared, limit))(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await rejected_response(_too_large(size, limit))(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and scope["path"].startswith("/api/") and _is_json(scope):
            try:
                scope[JSON_BODY] = await parse_json(body, self.limits.json_limits(limit))
            except JsonRejected as exc:
                await rejected_response(exc)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)


def _too_large(size: int, limit: int) -> JsonRejected:
    return JsonRejected(413, [f"body is {size} bytes or more, more than the limit of {limit}"])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value[:20])
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then waits for the client to go away."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def check_fields(fields: dict[str, str], limits: LimitSettings) -> None:
    """Message fields of a new activation within the limits, or 422 naming each one beyond them."""
    problems: list[str] = []
    if len(fields) > limits.activation_fields:
        problems.append(f"fields: {len(fields)} fields, at most {limits.activation_fields}")
    for name, value in list(fields.items())[: limits.activation_fields]:
        shown = short_key(name)
        if len(name) > limits.activation_field_name_chars:
            problems.append(
                f"fields.{shown}: name of {len(name)} characters"
                f" (at most {limits.activation_field_name_chars})"
            )
        if len(value) > limits.activation_field_value_chars:
            problems.append(
                f"fields.{shown}: {len(value)} characters (at most {limits.activation_field_value_chars})"
            )
    if problems:
        raise JsonRejected(422, problems)


def check_alert_count(payload: Any, limit: int) -> None:
    """At most `limit` alerts in one body (a native array, or a webhook's `alerts`), checked before
    any of them is read: 500,000 of them took the event loop 11 s to refuse one by one."""
    alerts = (
        payload if isinstance(payload, list) else payload.get("alerts") if isinstance(payload, dict) else None
    )
    if isinstance(alerts, list) and len(alerts) > limit:
        where = "(the whole document)" if alerts is payload else "alerts"
        raise JsonRejected(422, [f"{where}: {len(alerts)} alerts, at most {limit} in one request"])
