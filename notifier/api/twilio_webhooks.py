"""Twilio webhooks: inbound SMS, message status, voice TwiML, keypresses, call status.

Every request is checked against `X-Twilio-Signature` before anything else happens; a forged,
missing or re-targeted signature is 403 and the engine is never called. The callback token the
engine put in the callback URL (`?t=...`) tells it which attempt the callback belongs to; it is
covered by the signature because the query is part of the signed URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import structlog
from fastapi import APIRouter, HTTPException, Query, Request, Response

from notifier.api.context import get_context
from notifier.api.twilio_signature import public_url, signature_valid

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks/twilio", tags=["twilio"], include_in_schema=False)

MAX_FORM = 64_000
TWIML = "application/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def message_twiml(text: str) -> str:
    if not text:
        return EMPTY_TWIML
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'


async def verified_form(request: Request) -> dict[str, str]:
    """The form parameters of a request proven to come from Twilio; 403 otherwise."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(status_code=413, detail="form too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="form is not UTF-8") from None
    settings = get_context(request).settings
    tokens = [settings.twilio.auth_token.get_secret_value()]
    if settings.twilio.alternate_auth_token is not None:
        tokens.append(settings.twilio.alternate_auth_token.get_secret_value())
    url = public_url(settings.public_base_url, request.url.path, request.url.query)
    if not signature_valid(tokens, url, pairs, request.headers.get("X-Twilio-Signature")):
        log.warning("twilio_signature_rejected", path=request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)  # repeated keys: the first value is the one we act on
    return params


def _xml(text: str) -> Response:
    return Response(content=text, media_type=TWIML)


def _token(t: str | None) -> str:
    if not t:
        raise HTTPException(status_code=400, detail="callback token t is missing")
    return t


CallbackToken = Query(None, max_length=200)


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    params = await verified_form(request)
    reply = await get_context(request).engine.inbound_sms(
        params.get("From", ""), params.get("To", ""), params.get("Body", ""), params.get("MessageSid", "")
    )
    return _xml(message_twiml(reply))


@router.post("/status")
async def message_status(request: Request, t: str | None = CallbackToken) -> Response:
    params = await verified_form(request)
    await get_context(request).engine.message_status(_token(t), params)
    return _xml(EMPTY_TWIML)


@router.post("/voice")
async def voice(request: Request, t: str | None = CallbackToken) -> Response:
    params = await verified_form(request)
    return _xml(await get_context(request).engine.voice_twiml(_token(t), params))


@router.post("/gather")
async def gather(request: Request, t: str | None = CallbackToken) -> Response:
    params = await verified_form(request)
    return _xml(await get_context(request).engine.voice_gather(_token(t), params.get("Digits", ""), params))


@router.post("/call-status")
async def call_status(request: Request, t: str | None = CallbackToken) -> Response:
    params = await verified_form(request)
    await get_context(request).engine.call_status(_token(t), params)
    return _xml(EMPTY_TWIML)
