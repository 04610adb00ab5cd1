"""Alert intake: native JSON, Alertmanager webhook v4, Grafana webhook; the list of stored alerts.

The body is parsed by the pure parsers in `notifier.domain.alerts` (so MQTT intake shares them),
then handed to the engine, which stores it before we answer: 202 means durably accepted, 503 means
"retry" (Alertmanager retries 5xx). Bad payloads get 422 listing every problem with its JSON path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from notifier.api.auth import ALERT_WRITERS, READERS, require, sees_contacts
from notifier.api.context import get_context
from notifier.api.engine_api import AlertFilter, AlertReceipt, AlertView
from notifier.api.limits import JSON_BODY, check_alert_count, parse_json
from notifier.api.masking import mask_data
from notifier.api.tokens import TokenRecord
from notifier.domain.alerts import (
    Alert,
    PayloadError,
    Problem,
    parse_alertmanager,
    parse_grafana,
    parse_native,
)

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class Receipts(BaseModel):
    receipts: list[AlertReceipt]


_NATIVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["service", "severity", "summary"],
    "additionalProperties": False,
    "properties": {
        "service": {"type": "string", "description": "plan service id, name or alias", "example": "SEED"},
        "severity": {"type": "string", "example": "critical"},
        "summary": {"type": "string", "example": "SEED EMCS core unavailable"},
        "status": {"type": "string", "enum": ["firing", "resolved"], "default": "firing"},
        "source": {"type": "string", "description": "the monitoring system", "example": "zabbix"},
        "description": {"type": "string"},
        "dedup_key": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "alerts"],
    "properties": {
        "version": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "alerts": {"type": "array", "items": {"type": "object"}},
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def read_json(request: Request) -> Any:
    """The request body as JSON, read within the limits (docs/limits.md): 413 when too large, 400
    with the position when it is not JSON, 422 with the path of what is beyond a limit (also more
    than `alerts_per_request` alerts). Usually `BodyLimits` has read it already."""
    limits = get_context(request).settings.limits
    if JSON_BODY in request.scope:
        payload = request.scope[JSON_BODY]
    else:
        payload = await parse_json(await request.body(), limits.json_limits())
    check_alert_count(payload, limits.alerts_per_request)
    return payload


def _native_batch(payload: Any, request: Request) -> list[Alert]:
    now = get_context(request).clock.now()
    if not isinstance(payload, list):
        return [parse_native(payload, received_at=now)]
    if not payload:
        raise PayloadError([Problem("", "expected at least one alert")])
    alerts: list[Alert] = []
    problems: list[Problem] = []
    for index, item in enumerate(payload):
        try:
            alerts.append(parse_native(item, received_at=now))
        except PayloadError as exc:
            problems += [
                Problem(f"[{index}]" + (f".{p.path}" if p.path else ""), p.message) for p in exc.problems
            ]
    if problems:
        raise PayloadError(problems)
    return alerts


async def _submit(request: Request, alerts: list[Alert]) -> Receipts:
    return Receipts(receipts=await get_context(request).engine.submit_alerts(alerts))


@router.post("/alerts", status_code=202, response_model=Receipts, openapi_extra=_body_doc(_NATIVE_SCHEMA))
async def post_native(request: Request, _: TokenRecord = Depends(require(ALERT_WRITERS))) -> Receipts:
    """One native alert, or an array of them."""
    return await _submit(request, _native_batch(await read_json(request), request))


@router.post(
    "/integrations/alertmanager",
    status_code=202,
    response_model=Receipts,
    openapi_extra=_body_doc(_WEBHOOK_SCHEMA),
)
async def post_alertmanager(request: Request, _: TokenRecord = Depends(require(ALERT_WRITERS))) -> Receipts:
    """Prometheus Alertmanager webhook, version 4."""
    alerts = parse_alertmanager(await read_json(request), received_at=get_context(request).clock.now())
    return await _submit(request, alerts)


@router.post(
    "/integrations/grafana",
    status_code=202,
    response_model=Receipts,
    openapi_extra=_body_doc(_WEBHOOK_SCHEMA),
)
async def post_grafana(request: Request, _: TokenRecord = Depends(require(ALERT_WRITERS))) -> Receipts:
    """Grafana alerting webhook (version 1)."""
    alerts = parse_grafana(await read_json(request), received_at=get_context(request).clock.now())
    return await _submit(request, alerts)


@router.get("/alerts", response_model=list[AlertView])
async def list_alerts(
    request: Request,
    source: str | None = Query(
        None, max_length=16, description="native, alertmanager, grafana, mqtt, pagerduty"
    ),
    outcome: str | None = Query(
        None,
        max_length=16,
        description="started, joined, duplicate, suppressed, resolved, unrouted, rejected, test",
    ),
    service: str | None = Query(None, max_length=64),
    activation: str | None = Query(None, max_length=64, description="an activation id or reference code"),
    incident: str | None = Query(None, max_length=320, description="an incident key"),
    since: datetime | None = Query(None, description="RFC 3339"),
    limit: int = Query(100, ge=1, le=1000),
    who: TokenRecord = Depends(require(READERS)),
) -> list[AlertView]:
    """Every alert received, newest first, with its outcome and why, and the activation it is on."""
    where = AlertFilter(
        source=source,
        outcome=outcome,
        service=service,
        activation_id=activation,
        incident_key=incident,
        since=since,
        limit=limit,
    )
    context = get_context(request)
    found = await context.engine.list_alerts(where)
    if sees_contacts(who):
        return found
    return [
        AlertView.model_validate(mask_data(view.model_dump(mode="json"), context.phone_region))
        for view in found
    ]
