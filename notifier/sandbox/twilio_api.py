"""The Twilio REST surface (2010-04-01 Messages and Calls) and the `/sandbox/*` JSON view, as aiohttp routes.

Order of checks follows what a client observes from Twilio: authentication (401/20003), admission
(429/20429 and injected 5xx), the request schema (400/21xxx), the destination (21211, 21610).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import BasicAuth, web

from notifier.sandbox import listing, messaging, voice
from notifier.sandbox.core import SandboxState
from notifier.sandbox.faults import SERVER_ERROR, SERVICE_UNAVAILABLE
from notifier.sandbox.personas import persona_from_mapping
from notifier.sandbox.records import PlacedCall, RawRequest, SentMessage
from notifier.sandbox.schema import TwilioError, validate_form

STATE_KEY = web.AppKey("sandbox_state", SandboxState)
ACCOUNT = "/2010-04-01/Accounts/{account_sid}"
Creator = Callable[[SandboxState, str, dict[str, list[str]]], SentMessage | PlacedCall]


def _error(error: TwilioError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _authenticate(state: SandboxState, request: web.Request) -> str:
    account_sid = request.match_info["account_sid"]
    header = request.headers.get("Authorization", "")
    try:
        auth = BasicAuth.decode(header) if header else None
    except ValueError:
        auth = None
    if auth is None or auth.login != state.account_sid or auth.password != state.auth_token:
        raise TwilioError(401, 20003, "Authenticate")
    if account_sid != state.account_sid:
        raise TwilioError(401, 20003, "Authenticate")
    return account_sid


async def _read_form(request: web.Request) -> dict[str, list[str]]:
    data = await request.post()
    form: dict[str, list[str]] = {}
    for key, value in data.items():
        form.setdefault(key, []).append(value if isinstance(value, str) else str(value))
    return form


def _creator(title: str, create: Creator) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        form = await _read_form(request)
        raw = RawRequest(request.method, request.path, form, 0, state.clock.now())
        state.requests.append(raw)
        response = await _create(state, request, title, create, form)
        raw.status = response.status
        await state.changed()
        return response

    return handler


async def _create(
    state: SandboxState, request: web.Request, title: str, create: Creator, form: dict[str, list[str]]
) -> web.Response:
    admitted = ""
    try:
        if state.faults.twilio_down:
            raise SERVICE_UNAVAILABLE
        account_sid = _authenticate(state, request)
        state.limiter.admit(account_sid, state.clock.now())
        admitted = account_sid
        if state.faults.slow_seconds > 0:
            await asyncio.sleep(state.faults.slow_seconds)
        if state.faults.roll_unavailable():
            raise SERVICE_UNAVAILABLE
        fail_after = state.faults.roll_5xx()
        if fail_after and not state.faults.error_5xx_after_create:
            raise SERVER_ERROR
        validate_form(title, form)
        resource = create(state, account_sid, form)
        if fail_after:
            raise SERVER_ERROR
        return web.json_response(resource.resource(), status=201)
    except TwilioError as error:
        return _error(error)
    finally:
        if admitted:
            state.limiter.release(admitted)


async def _fetch_account(request: web.Request) -> web.Response:
    """The Account resource (what a health check fetches); 503 while Twilio is down."""
    state = request.app[STATE_KEY]
    try:
        if state.faults.twilio_down:
            raise SERVICE_UNAVAILABLE
        account_sid = _authenticate(state, request)
    except TwilioError as error:
        return _error(error)
    return web.json_response(
        {"sid": account_sid, "status": "active", "type": "Full", "friendly_name": "notifier sandbox"}
    )


def _fetcher(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        try:
            _authenticate(state, request)
        except TwilioError as error:
            return _error(error)
        sid = request.match_info["sid"]
        records: list[SentMessage] | list[PlacedCall] = state.messages if kind == "Messages" else state.calls
        for record in records:
            if record.sid == sid:
                return web.json_response(record.resource())
        return _error(TwilioError(404, 20404, f"The requested resource {request.path} was not found"))

    return handler


async def _list_messages_api(request: web.Request) -> web.Response:
    """`GET .../Messages.json`: Twilio's list of Message resources (filters, paging: listing.py)."""
    state = request.app[STATE_KEY]
    try:
        _authenticate(state, request)
        return web.json_response(
            listing.page(request, "messages", state.messages, listing.message_checks(request.query))
        )
    except TwilioError as error:
        return _error(error)


async def _list_calls_api(request: web.Request) -> web.Response:
    """`GET .../Calls.json`: Twilio's list of Call resources (filters, paging: listing.py)."""
    state = request.app[STATE_KEY]
    try:
        _authenticate(state, request)
        return web.json_response(
            listing.page(request, "calls", state.calls, listing.call_checks(request.query))
        )
    except TwilioError as error:
        return _error(error)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


async def _list_messages(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    rows = [{**m.resource(), "callbacks": [asdict(c) for c in m.callbacks]} for m in state.messages]
    inbound = [
        {"sid": i.sid, "from": i.from_, "to": i.to, "body": i.body, "status": i.callback.status}
        for i in state.inbound
    ]
    return web.json_response(_jsonable({"messages": rows, "inbound": inbound}))


async def _list_calls(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    rows = [
        {
            **c.resource(),
            "said": c.said,
            "played": c.played,
            "digits_sent": c.digits_sent,
            "finished": c.finished,
            "callbacks": [asdict(cb) for cb in c.callbacks],
        }
        for c in state.calls
    ]
    return web.json_response(_jsonable({"calls": rows}))


async def _list_emails(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    rows = [
        {
            "from": e.envelope_from,
            "to": e.envelope_to,
            "subject": e.subject,
            "text": e.text(),
            "received_at": e.received_at,
            "clicks": [asdict(c) for c in e.clicks],
        }
        for e in state.emails
    ]
    return web.json_response(_jsonable({"emails": rows}))


async def _post_personas(request: web.Request) -> web.Response:
    """Configure personas from another process: a JSON object or a list of them."""
    state = request.app[STATE_KEY]
    try:
        payload = await request.json()
        items = payload if isinstance(payload, list) else [payload]
        personas = [persona_from_mapping(item) for item in items]
    except (ValueError, TypeError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state.personas.add(*personas)
    return web.json_response({"personas": [p.to_json() for p in state.personas.all()]})


async def _post_outage(request: web.Request) -> web.Response:
    """The demo's switch: `{"twilio": true}` makes every Twilio REST request answer 503."""
    state = request.app[STATE_KEY]
    try:
        payload = await request.json()
        state.faults.twilio_down = bool(payload["twilio"])
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"twilio_down": state.faults.twilio_down})


async def _post_reply(request: web.Request) -> web.Response:
    """Make a handset send an SMS now: `{"from": "+32...", "to": "+1500...", "body": "1"}`."""
    state = request.app[STATE_KEY]
    try:
        payload = await request.json()
        inbound = await messaging.send_inbound(
            state, str(payload["from"]), str(payload["to"]), str(payload["body"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"sid": inbound.sid, "webhook_status": inbound.callback.status})


def build_app(state: SandboxState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_post(
        f"{ACCOUNT}/Messages.json", _creator("CreateMessageRequest", messaging.create_message)
    )
    app.router.add_post(f"{ACCOUNT}/Calls.json", _creator("CreateCallRequest", voice.create_call))
    app.router.add_get(f"{ACCOUNT}.json", _fetch_account)
    app.router.add_get(f"{ACCOUNT}/Messages.json", _list_messages_api)
    app.router.add_get(f"{ACCOUNT}/Calls.json", _list_calls_api)
    app.router.add_get(f"{ACCOUNT}/Messages/{{sid}}.json", _fetcher("Messages"))
    app.router.add_get(f"{ACCOUNT}/Calls/{{sid}}.json", _fetcher("Calls"))
    app.router.add_get("/sandbox/messages", _list_messages)
    app.router.add_get("/sandbox/calls", _list_calls)
    app.router.add_get("/sandbox/emails", _list_emails)
    app.router.add_post("/sandbox/personas", _post_personas)
    app.router.add_post("/sandbox/replies", _post_reply)
    app.router.add_post("/sandbox/outage", _post_outage)
    return app
