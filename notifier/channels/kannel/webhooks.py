"""Kannel's requests to us: delivery reports (`dlr-url`) and replies (`sms-service` get-url).

    GET /webhooks/kannel/dlr?t=<token>&k=<hmac of token>&type=%d&reply=%A   (per message, from us)
    GET /webhooks/kannel/sms?k=<secret>&from=%p&to=%P&text=%a&id=%I          (in kannel.conf)

Both are authenticated with the shared secret of `providers.kannel.secret` (compared in constant
time); anything else is 403 before the engine is called. A reply goes through the same reply
grammar, ambiguity questions and STOP handling as Twilio's (the inbound port); the text we answer
with is Kannel's reply to the sender (configure the service with `omit-empty = yes`, so that an
empty answer sends nothing).

| Kannel report type (%d)           | delivery status |
|-----------------------------------|-----------------|
| 1 delivered to the phone          | delivered       |
| 2 not delivered                   | failed          |
| 4 buffered, 8 accepted by the SMSC| sent            |
| 16 rejected by the SMSC           | failed          |
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from notifier.channels.inbound import DeliveryReport, InboundPort
from notifier.channels.kannel.provider import KannelSettings, sign
from notifier.domain.events import DeliveryStatus

router = APIRouter(prefix="/webhooks/kannel", include_in_schema=False)

DLR_STATUS: dict[int, DeliveryStatus] = {1: "delivered", 2: "failed", 4: "sent", 8: "sent", 16: "failed"}
MAX_TEXT = 1600
MAX_FIELD = 200


def _settings(request: Request) -> KannelSettings:
    cached: KannelSettings | None = getattr(request.app.state, "kannel_settings", None)
    if cached is None:
        raw: dict[str, Any] = request.app.state.context.settings.providers.get("kannel", {})
        cached = KannelSettings.model_validate(raw)
        request.app.state.kannel_settings = cached
    return cached


def _port(request: Request) -> InboundPort:
    port: InboundPort = request.app.state.context.engine
    return port


def _field(request: Request, name: str, limit: int = MAX_FIELD) -> str:
    value = request.query_params.get(name, "")
    if len(value) > limit:
        raise HTTPException(status_code=422, detail=f"{name} is longer than {limit} characters")
    return value


@router.get("/dlr")
async def delivery_report(request: Request) -> PlainTextResponse:
    token = _field(request, "t")
    secret = _settings(request).secret.get_secret_value()
    if not token or not hmac.compare_digest(_field(request, "k"), sign(secret, token)):
        raise HTTPException(status_code=403, detail="invalid Kannel authenticator")
    kind = _field(request, "type")
    status = DLR_STATUS.get(int(kind)) if kind.isdigit() else None
    if status is None:
        raise HTTPException(status_code=422, detail="type must be a Kannel report type (1, 2, 4, 8, 16)")
    code = None if status != "failed" else f"dlr-{kind}"
    report = DeliveryReport(status, code, "kannel", f"kannel:{token}", f"dlr-{kind}")
    await _port(request).delivery_report(token, report)
    return PlainTextResponse("ok")


@router.get("/sms")
async def inbound_sms(request: Request) -> PlainTextResponse:
    secret = _settings(request).secret.get_secret_value()
    if not hmac.compare_digest(_field(request, "k").encode(), secret.encode()):
        raise HTTPException(status_code=403, detail="invalid Kannel shared secret")
    sender = _field(request, "from")
    if not sender:
        raise HTTPException(status_code=422, detail="from is missing")
    text, to, message_id = _field(request, "text", MAX_TEXT), _field(request, "to"), _field(request, "id")
    answer = await _port(request).inbound_sms(sender, to, text, f"kannel:{message_id}" if message_id else "")
    return PlainTextResponse(answer)
