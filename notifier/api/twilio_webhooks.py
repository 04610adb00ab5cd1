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

While the database is down (or in a burst), verified webhooks are not refused: they go to a local
durable spool (`webhook_spool.py`), are answered 200 with what can be said without the store (an
SMS "received", a call's generic script), and are applied in order when the store is back.
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
from notifier.api.engine_api import EngineAPI
from notifier.api.errors import error_response
from notifier.api.twilio_signature import public_url, signature_valid
from notifier.api.webhook_spool import SpoolEntry, WebhookSpool, is_store_failure
from notifier.channels.twilio import voice
from notifier.channels.twilio.status import machine_report, report_from_form
from notifier.domain.replies import ReplyAction, parse_reply
from notifier.settings import Settings

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


async def verified_form(request: Request, settings: Settings | None = None) -> dict[str, str]:
    """The form parameters of a request proven to come from Twilio; 403 otherwise.

    The form is bounded before anything else (docs/limits.md): size (413, also enforced ahead of
    us by `BodyLimits`), number of parameters (413) and length of each (422 naming it), so an
    unsigned request with a 200,000-character `From` costs next to nothing.
    """
    settings = settings or get_context(request).settings
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
    # the URL Twilio called: the webhooks' public base, or (for callbacks addressed before webhook
    # workers took them) the daemon's own
    signature = request.headers.get("X-Twilio-Signature")
    bases = dict.fromkeys((settings.twilio_webhook_base(), settings.public_base_url))
    urls = [public_url(base, request.url.path, request.url.query) for base in bases]
    if not any(signature_valid(tokens, url, pairs, signature) for url in urls):
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


# --- applying a verified webhook: now, or later from the spool (same code) --------------------
#: (engine, callback token, form, public base URL) -> TwiML answer
Apply = Callable[[EngineAPI, str | None, dict[str, str], str], Awaitable[str]]


async def _apply_sms(engine: EngineAPI, token: str | None, params: dict[str, str], base: str) -> str:
    reply = await engine.inbound_sms(
        params.get("From", ""), params.get("To", ""), params.get("Body", ""), params.get("MessageSid", "")
    )
    return message_twiml(reply)


def _apply_report(call: bool) -> Apply:
    async def apply(engine: EngineAPI, token: str | None, params: dict[str, str], base: str) -> str:
        report = report_from_form(params, call=call)  # Twilio's words -> channel-neutral
        if report is not None and token:
            await engine.delivery_report(token, report)
        return EMPTY_TWIML

    return apply


async def _apply_voice(engine: EngineAPI, token: str | None, params: dict[str, str], base: str) -> str:
    """The call connected: read the attempt's message out (a machine hears it without the menu)."""
    token = token or ""
    machine = machine_report(params)  # Twilio's AnsweredBy -> the channel-neutral report
    script = await engine.call_script(token)
    if script is None:
        return voice.goodbye("This call is no longer active. Goodbye.")
    if machine is not None:
        await engine.delivery_report(token, machine)
    urls = voice.VoiceUrls(base, token)
    return voice.voice_document(script, urls, params.get("AnsweredBy"), repeated=params.get("repeat") == "1")


async def _apply_gather(engine: EngineAPI, token: str | None, params: dict[str, str], base: str) -> str:
    """A keypress: 1 confirms, 2 declines (recorded once per CallSid and digits), 9 repeats."""
    token, digits = token or "", params.get("Digits", "")
    script = await engine.call_script(token)
    if script is None:
        return voice.goodbye("This call is no longer active. Goodbye.")
    action = voice.parse_digits(digits)
    if action in (voice.KeyAction.CONFIRM, voice.KeyAction.DECLINE):
        await engine.call_answer(token, str(action), digits, params.get("CallSid") or None)
    return voice.digits_response(digits, script, voice.VoiceUrls(base, token))


#: path -> (spool kind, needs the callback token, apply)
KINDS: dict[str, tuple[str, bool, Apply]] = {
    f"{PREFIX}/sms": ("sms", False, _apply_sms),
    f"{PREFIX}/status": ("status", True, _apply_report(call=False)),
    f"{PREFIX}/voice": ("voice", True, _apply_voice),
    f"{PREFIX}/gather": ("gather", True, _apply_gather),
    f"{PREFIX}/call-status": ("call-status", True, _apply_report(call=True)),
}
_BY_KIND = {kind: apply for kind, _, apply in KINDS.values()}

#: what a call hears when its message cannot be read from the store now
SPOOLED_CALL = (
    "This is an urgent notification from your organisation's continuity plan. "
    "The details are in the text message we sent you."
)
SPOOLED_REPLY = "Received. Your answer is being recorded."


def spooled_twiml(kind: str, token: str | None, params: dict[str, str], public_base_url: str) -> str:
    """The answer to a webhook that was spooled, without the store: what the situation allows."""
    if kind == "sms":
        action = parse_reply(params.get("Body", "")).action
        return message_twiml(SPOOLED_REPLY if action in (ReplyAction.CONFIRM, ReplyAction.DECLINE) else "")
    urls = voice.VoiceUrls(public_base_url, token or "")
    if kind == "voice":
        return voice.voice_document(SPOOLED_CALL, urls, params.get("AnsweredBy"))
    if kind == "gather":
        return voice.digits_response(params.get("Digits", ""), SPOOLED_CALL, urls)
    return EMPTY_TWIML


def provider_id(params: dict[str, str]) -> str | None:
    """The provider's id of the message or call a webhook is about (its receipts' key)."""
    return params.get("MessageSid") or params.get("SmsSid") or params.get("CallSid") or None


async def apply_spooled(engine: EngineAPI, entry: SpoolEntry, base: str = "") -> str:
    """Apply one spooled webhook (the spools' readers call this, in order); its TwiML answer, which
    a webhook worker may still be waiting for (`base`: the webhooks' public base URL)."""
    apply = _BY_KIND.get(entry.kind)
    if apply is None:
        return EMPTY_TWIML
    return await apply(engine, entry.token, entry.params, base)


async def _spool(
    request: Request, spool: WebhookSpool, kind: str, token: str | None, params: dict[str, str]
) -> Response | None:
    context = get_context(request)
    if not await spool.append(kind, token, params, context.clock.now()):
        return None
    return _xml(spooled_twiml(kind, token, params, context.settings.twilio_webhook_base()))


#: (request, spool kind, callback token, verified form) -> the answer; the daemon applies the
#: webhook (`TwilioWebhooks._apply`), a webhook worker spools it (`webhook_worker.py`)
Handler = Callable[[Request, str, str | None, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class _Route:
    """What the metrics middleware reads to label a request (`scope["route"].path`)."""

    path: str


class TwilioWebhooks:
    """ASGI middleware: serves the Twilio webhook paths (`KINDS`) itself and passes every other
    request on unchanged. With a spool (`ApiContext.spool`), a verified webhook goes to the spool
    instead of the engine when older ones wait there, when more than `spool.burst` are being
    applied, or when applying it fails because the store is down; it is answered 200 once it is
    on disk."""

    def __init__(
        self, app: ASGIApp, settings: Settings | None = None, handler: Handler | None = None
    ) -> None:
        self.app = app
        self.settings = settings  # None: the application's (`ApiContext`)
        self.handler = handler
        self._applying = 0

    async def _handle(self, request: Request, kind: str, needs_token: bool, apply: Apply) -> Response:
        params = await verified_form(request, self.settings)
        token = _token(request) if needs_token else None
        if self.handler is not None:
            return await self.handler(request, kind, token, params)
        context = get_context(request)
        spool = context.spool
        if spool is not None and (spool.pending or self._applying >= context.settings.spool.burst):
            spooled = await _spool(request, spool, kind, token, params)
            if spooled is not None:
                return spooled
        self._applying += 1
        try:
            return _xml(await apply(context.engine, token, params, context.settings.twilio_webhook_base()))
        except Exception as exc:
            if spool is None or not is_store_failure(exc):
                raise
            log.warning("store unavailable: webhook spooled", kind=kind, error=type(exc).__name__)
            spooled = await _spool(request, spool, kind, token, params)
            if spooled is None:
                raise
            return spooled
        finally:
            self._applying -= 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = KINDS.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
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
                response = await self._handle(request, *route)
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
