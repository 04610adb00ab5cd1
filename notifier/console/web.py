"""Templates, time formatting, form reading and the session checks every console route uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError

from notifier.console.backend import CONSOLE_ROLES, ConsoleBackend, Principal
from notifier.console.session import SESSION_COOKIE, SessionInvalid
from notifier.domain.progress import status_word

MAX_FORM = 64_000
ASSET_VERSION = "2"  # bump to make browsers fetch changed static files

templates = Environment(
    loader=PackageLoader("notifier.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


#: scripts and styles from our own static files only (htmx runs without eval), no framing, no
#: referrer (activation ids stay on this host), forms post only here
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SignInRequired(Exception):
    """No valid session: pages answer with the sign-in page, fragments with 401."""


def backend_of(request: Request) -> ConsoleBackend:
    backend: ConsoleBackend = request.app.state.console
    return backend


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def when(value: Any, request_zone: Any = None, with_date: bool = True) -> Markup:
    """A time in the organisation's zone, with the UTC time on hover (title) and in `datetime`."""
    moment = _moment(value)
    if moment is None:
        return Markup("")
    zone = request_zone or UTC
    local = moment.astimezone(zone)
    utc = moment.astimezone(UTC)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    return Markup(
        f'<time datetime="{utc.isoformat()}" title="{utc.strftime("%Y-%m-%d %H:%M:%S")} UTC">'
        f"{escape(shown)}</time>"
    )


def duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    total = round(float(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


templates.filters["duration"] = duration
templates.filters["word"] = status_word  # a status as a coordinator reads it (not_contacted: "not contacted")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    backend = backend_of(request)
    zone = backend.zone
    context.setdefault("who", None)
    html = templates.get_template(name).render(
        when=lambda value, with_date=True: when(value, zone, with_date),
        zone_name=zone.key,
        asset_version=ASSET_VERSION,
        org=backend.engine.config.plan.organisation.name,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def fragment(request: Request, name: str, **context: Any) -> str:
    zone = backend_of(request).zone
    return templates.get_template(name).render(
        when=lambda value, with_date=True: when(value, zone, with_date), **context
    )


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the console's forms post nothing else); 413 when too large."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(status_code=413, detail="form too large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status_code=400, detail="the form could not be read") from None


async def principal(request: Request) -> Principal:
    """The signed-in principal, or SignInRequired. The token is re-read on every request."""
    backend = backend_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInRequired()
    try:
        session = backend.signer.read(cookie, time.time())
    except SessionInvalid:
        raise SignInRequired() from None
    if session.sid in backend.signed_out:
        raise SignInRequired()
    try:
        record = await backend.tokens.get(session.token_id)
    except SQLAlchemyError:
        raise HTTPException(status_code=503, detail="token store unavailable") from None
    if record is None or not record.active or record.role not in CONSOLE_ROLES:
        raise SignInRequired()
    region = getattr(request.app.state.context, "phone_region", None)
    return Principal(record=record, session=session, csrf=backend.signer.csrf(session.sid), region=region)


async def acting(request: Request) -> tuple[Principal, dict[str, str]]:
    """For a POST that changes something: a coordinator or admin, and a form with a valid CSRF
    token (403 otherwise, before anything is done)."""
    who = await principal(request)
    form = await read_form(request)
    presented = form.get("csrf") or request.headers.get("x-csrf-token")
    if not backend_of(request).signer.csrf_ok(who.session.sid, presented):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token: reload the page")
    if not who.can_act:
        raise HTTPException(status_code=403, detail=f"role {who.role!r} may not do this")
    return who, form


async def admin_form(request: Request) -> tuple[Principal, dict[str, str]]:
    who, form = await acting(request)
    if not who.is_admin:
        raise HTTPException(status_code=403, detail="only an admin manages tokens")
    return who, form
