"""PagerDuty Events API v2, so that anything able to page PagerDuty pages us unchanged.

`POST /v2/enqueue` (the path PagerDuty senders append nothing to: point their URL here) and the same
under `/api/v1/integrations/pagerduty`; `POST /v2/change/enqueue` (change events) is answered 202
and logged. The `routing_key` authenticates the sender (an integration key, `notifier integration
create`); there is no bearer token, as with PagerDuty. Answers are PagerDuty's:

* 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}` once the alert is
  stored (a trigger without `dedup_key` gets a generated one);
* 400 `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}` for a
  bad event or an unknown routing key (senders do not retry a 400);
* 413 above 512 KB; 429 when a routing key sends more than `pagerduty_events_per_minute`
  (senders retry);
* 503 only when the store cannot take the alert (senders retry).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from notifier.api.context import get_context
from notifier.api.limits import JSON_BODY, parse_json
from notifier.domain.alerts import PayloadError
from notifier.domain.jsonlimits import JsonRejected
from notifier.domain.pagerduty import MAX_EVENT_BYTES, parse_event, to_alert

log = structlog.get_logger("notifier.alerts")

router = APIRouter(tags=["alerts"])

_EVENT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["routing_key", "event_action"],
                    "properties": {
                        "routing_key": {"type": "string", "description": "an integration key of ours"},
                        "event_action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]},
                        "dedup_key": {"type": "string", "maxLength": 255},
                        "payload": {
                            "type": "object",
                            "properties": {
                                "summary": {"type": "string", "maxLength": 1024},
                                "source": {"type": "string"},
                                "severity": {
                                    "type": "string",
                                    "enum": ["critical", "error", "warning", "info"],
                                },
                                "timestamp": {"type": "string", "format": "date-time"},
                                "component": {"type": "string", "description": "the service, e.g. SEED"},
                                "group": {"type": "string"},
                                "class": {"type": "string"},
                                "custom_details": {"type": "object"},
                            },
                        },
                        "links": {"type": "array", "items": {"type": "object"}},
                        "images": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    },
    "responses": {
        "400": {"description": "invalid event (not retried)"},
        "413": {"description": "larger than 512 KB"},
        "429": {"description": "over the routing key's rate (retried)"},
        "503": {"description": "the store is unavailable (retried)"},
    },
}


def _invalid(errors: list[str], status: int = 400, message: str = "Event object is invalid") -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"status": "invalid event", "message": message, "errors": errors}
    )


class _Rate:
    """Events per routing key in the last minute (one instance: the daemon's own count)."""

    def __init__(self) -> None:
        self.seen: dict[str, deque[float]] = {}

    def allow(self, key_id: str, per_minute: int) -> bool:
        now = time.monotonic()
        window = self.seen.setdefault(key_id, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= per_minute:
            return False
        window.append(now)
        return True


async def _event(request: Request) -> Any:
    if JSON_BODY in request.scope:  # read and bounded already (paths under /api/)
        return request.scope[JSON_BODY]
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        raise JsonRejected(413, [f"the event is {len(body)} bytes, more than PagerDuty's limit of 512 KB"])
    limits = get_context(request).settings.limits
    return await parse_json(body, limits.json_limits(MAX_EVENT_BYTES))


async def enqueue(request: Request) -> JSONResponse:
    """One PagerDuty Events API v2 event (trigger, acknowledge or resolve)."""
    context = get_context(request)
    try:
        event = parse_event(await _event(request))
    except JsonRejected as exc:
        return _invalid(exc.problems, 413 if exc.status == 413 else 400)
    except PayloadError as exc:
        return _invalid(exc.messages())
    integration = await context.engine.integration_key(event.routing_key)
    if integration is None:
        return _invalid(["routing_key: not an integration key of this service (or revoked)"])
    rate: _Rate = getattr(request.app.state, "pagerduty_rate", None) or _Rate()
    request.app.state.pagerduty_rate = rate
    if not rate.allow(integration.id, context.settings.pagerduty_events_per_minute):
        return JSONResponse(
            status_code=429,
            content={
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly.",
            },
            headers={"Retry-After": "30"},
        )
    alert = to_alert(event, integration.id, context.clock.now(), integration.route, integration.calltree)
    await context.engine.submit_alerts([alert])  # StoreUnavailable -> 503 (the error handlers)
    return JSONResponse(
        status_code=202,
        content={"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
    )


async def change_enqueue(request: Request) -> JSONResponse:
    """PagerDuty change events of a known routing key: accepted and logged, nothing is paged. Any
    other body is a 400 with no log line (anyone can post here: no unauthenticated log growth)."""
    try:
        event = await _event(request)
    except JsonRejected as exc:
        return _invalid(exc.problems, 413 if exc.status == 413 else 400)
    key = event.get("routing_key") if isinstance(event, dict) else None
    integration = await get_context(request).engine.integration_key(key) if isinstance(key, str) else None
    if integration is None:
        return _invalid(["routing_key: not an integration key of this service (or revoked)"])
    log.info("pagerduty change event received; nothing to page", integration=integration.name)
    return JSONResponse(status_code=202, content={"status": "success", "message": "Change event processed"})


for path in ("/v2/enqueue", "/api/v1/integrations/pagerduty"):
    router.add_api_route(
        path,
        enqueue,
        methods=["POST"],
        status_code=202,
        openapi_extra=_EVENT_DOC,
        summary="PagerDuty Events API v2 event",
    )
router.add_api_route(
    "/v2/change/enqueue",
    change_enqueue,
    methods=["POST"],
    status_code=202,
    summary="PagerDuty change event (recorded in the log, pages nobody)",
    openapi_extra={
        "responses": {
            "400": {"description": "not JSON, or no routing key of ours"},
            "413": {"description": "larger than 512 KB"},
        }
    },
)
