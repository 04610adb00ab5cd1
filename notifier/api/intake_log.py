"""Refused alert requests are never silent: counted, logged and stored.

A sender whose request is refused (400 bad JSON, 401/403 token, 413 too large, 422 invalid fields,
429 over the rate) must be visible to whoever runs us: this ASGI layer watches the answers of the
intake endpoints and hands each refusal, with the status and the reason (the answer's own error
text: field paths and messages, never the token or the body), to the engine, which counts it
(`notifier_alerts_total{outcome="rejected"}`), logs one line and stores it as an alert with outcome
`rejected` (listed by `notifier alerts`); beyond 10 of one source and status a minute it only counts
them (`engine/alert_intake.py`, docs/limits.md).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("notifier.alerts")

#: intake paths and the source they stand for
INTAKE_PATHS = {
    "/api/v1/alerts": "native",
    "/api/v1/integrations/alertmanager": "alertmanager",
    "/api/v1/integrations/grafana": "grafana",
    "/api/v1/integrations/pagerduty": "pagerduty",
    "/v2/enqueue": "pagerduty",
}
REFUSALS = frozenset({400, 401, 403, 404, 405, 413, 415, 422, 429})
_KEEP = 8192  # bytes of an error answer read for its reason


def reason_of(body: bytes) -> str:
    """The error text of one of our answers: `error` + `problems` (or FastAPI's `detail`),
    or PagerDuty's `message` + `errors`."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", errors="replace")
    if not isinstance(data, dict):
        return str(data)[:200]
    head = data.get("error") or data.get("message") or data.get("detail") or ""
    items = data.get("problems") or data.get("errors") or []
    if isinstance(head, list):  # FastAPI's own validation detail
        items, head = head, "invalid request"
    parts = [str(head)] + [str(i.get("msg", i)) if isinstance(i, dict) else str(i) for i in items[:5]]
    more = f" (+{len(items) - 5} more)" if isinstance(items, list) and len(items) > 5 else ""
    return ("; ".join(p for p in parts if p) + more)[:1000]


class RejectedIntake:
    """Pure ASGI middleware on the intake paths only; other requests pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = INTAKE_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if source is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        seen = {"status": 0, "bytes": 0}
        body = bytearray()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body" and seen["status"] in REFUSALS:
                if len(body) < _KEEP:
                    body.extend(message.get("body", b"")[: _KEEP - len(body)])
                if not message.get("more_body", False):  # recorded before the sender hears of it
                    await self._record(scope, source, seen["status"], bytes(body), seen["bytes"])
            await send(message)

        await self.app(scope, counting_receive, watching_send)

    async def _record(self, scope: Scope, source: str, status: int, body: bytes, size: int) -> None:
        reason = reason_of(body)
        app = scope.get("app")
        context = getattr(getattr(app, "state", None), "context", None)
        if context is not None:
            await context.engine.record_rejected(source, status, reason, size)
        else:  # an app without an engine (never in the daemon): at least the log line
            log.warning("alert request rejected", source=source, status=status, reason=reason)
