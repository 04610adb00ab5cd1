"""Twilio webhooks: inbound SMS, message status, voice TwiML, keypresses, call status.

Every request is checked against `X-Twilio-Signature` before anything else happens; a forged,
missing or re-targeted signature is 403 and the engine is never called. The callback token the
engine put in the callback URL (`?t=...`) tells it which attempt the callback belongs to; it is
covered by the signature because the query is part of the signed URL.

These are most of the daemon's HTTP traffic (three status callbacks per SMS, plus the replies), so
they are served by `TwilioWebhooks`, an ASGI layer in front of FastAPI's router: the same checks
and answers, without routing through every API route and solving dependencies for each callback
(about half of a callback's cost in a 5,000-SMS broadcast profile). They are not API endpoints and
are not in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import structlog
from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from notifier.api.context import get_context
from notifier.api.errors import error_response
from notifier.api.twilio_signature import public_url, signature_valid
from notifier.channels.twilio.status import report_from_form

log = structlog.get_logger(__name__)

PREFIX = "/webhooks/twilio"
MAX_QUERY = 2_000  # the callback token and what Twilio adds; the query is part of the signed URL
MAX_NAME = 64
MAX_TOKEN = 200
TWIML = "application/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def message_twiml(text: str) -> str:
    if not text:
        return EMPTY_TWIML
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'


async def verified_form(request: Request) -> dict[str, str]:
    """The form parameters of a request proven to come from Twilio; 403 otherwise.

    The form is bounded before anything else (docs/limits.md): size (413, also enforced ahead of
    us by `BodyLimits`), number of parameters (413) and length of each (422 naming it), so an
    unsigned request with a 200,000-character `From` costs next to nothing.
    """
    settings = get_context(request).settings
    limits = settings.limits
    if len(request.url.query) > MAX_QUERY:
        raise HTTPException(status_code=414, detail=f"query longer than {MAX_QUERY} characters")
    body = await request.body()
    if len(body) > limits.webhook_form_bytes:
        raise HTTPException(status_code=413, detail="form too large")
    if body.count(b"&") >= limits.webhook_form_fields:
        raise HTTPException(status_code=413, detail=f"more than {limits.webhook_form_fields} form parameters")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="form is not UTF-8") from None
    for name, value in pairs:
        if len(name) > MAX_NAME or len(value) > limits.webhook_value_chars:
            shown = name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."
            raise HTTPException(
                status_code=422,
                detail=f"form parameter {shown}: too long (names up to {MAX_NAME} characters, "
                f"values up to {limits.webhook_value_chars})",
            )
    tokens = [settings.twilio.auth_token.get_secret_value()]
    if settings.twilio.alternate_auth_token is not None:
        tokens.append(settings.twilio.alternate_auth_token.get_secret_value())
    url = public_url(settings.public_base_url, request.url.path, request.url.query)
    if not signature_valid(tokens, url, pairs, request.headers.get("X-Twilio-Signature")):
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)  # repeated keys: the first value is the one we act on
    return params


def _xml(text: str) -> Response:
    return Response(content=text, media_type=TWIML)


def _token(request: Request) -> str:
    t = request.query_params.get("t")
    if not t:
        raise HTTPException(status_code=400, detail="callback token t is missing")
    if len(t) > MAX_TOKEN:
        raise HTTPException(status_code=422, detail=f"callback token t is longer than {MAX_TOKEN} characters")
    return t


async def inbound_sms(request: Request) -> Response:
    params = await verified_form(request)
    reply = await get_context(request).engine.inbound_sms(
        params.get("From", ""), params.get("To", ""), params.get("Body", ""), params.get("MessageSid", "")
    )
    return _xml(message_twiml(reply))


async def message_status(request: Request) -> Response:
    params = await verified_form(request)
    token = _token(request)
    report = report_from_form(params, call=False)  # Twilio's words -> channel-neutral
    if report is not None:
        await get_context(request).engine.delivery_report(token, report)
    return _xml(EMPTY_TWIML)


async def voice(request: Request) -> Response:
    params = await verified_form(request)
    return _xml(await get_context(request).engine.voice_twiml(_token(request), params))


async def gather(request: Request) -> Response:
    params = await verified_form(request)
    return _xml(
        await get_context(request).engine.voice_gather(_token(request), params.get("Digits", ""), params)
    )


async def call_status(request: Request) -> Response:
    params = await verified_form(request)
    token = _token(request)
    report = report_from_form(params, call=True)  # Twilio's words -> channel-neutral
    if report is not None:
        await get_context(request).engine.delivery_report(token, report)
    return _xml(EMPTY_TWIML)


Handler = Callable[[Request], Awaitable[Response]]

ROUTES: dict[str, Handler] = {
    f"{PREFIX}/sms": inbound_sms,
    f"{PREFIX}/status": message_status,
    f"{PREFIX}/voice": voice,
    f"{PREFIX}/gather": gather,
    f"{PREFIX}/call-status": call_status,
}


@dataclass(frozen=True)
class _Route:
    """What the metrics middleware reads to label a request (`scope["route"].path`)."""

    path: str


class TwilioWebhooks:
    """ASGI middleware: serves `ROUTES` itself and passes every other request on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route(scope["path"])
        request = Request(scope, receive)
        response: Response
        if request.method != "POST":
            response = JSONResponse(
                {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": "POST"}
            )
        else:
            try:
                response = await handler(request)
            except HTTPException as exc:  # bad input: a logged 4xx with the reason, never the values
                log.warning(
                    "twilio_webhook_rejected",
                    path=request.url.path,
                    status=exc.status_code,
                    reason=exc.detail,
                )
                response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
            except Exception as exc:  # the API's own answer to the same error: 503 for the store, ...
                response = await error_response(request, exc)
        await response(scope, receive, send)
