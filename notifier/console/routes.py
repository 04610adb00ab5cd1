"""Sign-in and out, the Now page, the Activation page with its actions and report links.

Actions are plain HTML forms (they work without JavaScript) posting to the same engine calls as
the REST API, with the signed-in token's name as `by`, so the activity log says who did it. After
an action the browser is sent back to the page (303) with a short outcome code: never personal
data in a URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from notifier.api.engine_api import ActivationView, EngineAPI
from notifier.api.tokens import TokenRecord
from notifier.console.backend import CONSOLE_ROLES, Principal
from notifier.console.session import (
    PRESESSION_COOKIE,
    PRESESSION_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
)
from notifier.console.web import acting, backend_of, principal, read_form, render
from notifier.domain.masking import mask_for_viewer, mask_text
from notifier.domain.progress import answer_outcome
from notifier.engine.contract import EngineError, UpdateRequest
from notifier.reports.build import MEDIA_TYPES

router = APIRouter(prefix="/console", include_in_schema=False)

ActivationId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
REPORT_FORMATS = ("html", "png", "csv", "json")
#: who receives an update: everyone a message reached, those not yet reached, or everyone
AUDIENCES = {"reached": "everyone a message reached", "pending": "those not reached yet", "all": "everyone"}
DONE = {
    "ack": "Acknowledgement recorded on their behalf.",
    "decline": "Decline recorded on their behalf.",
    "unchanged": "Answer recorded; nothing changed: the activation is no longer open, or they had already "
    "answered, or no node of theirs is still being tried.",
    "cancel": "Activation cancelled.",
    "close": "Activation closed.",
    "update": "Update sent.",
    "reopen": "Paged again: this is the new activation, with the same tree and message.",
    "started": "Activation started.",
}


def _secure(request: Request) -> bool:
    return backend_of(request).settings.public_base_url.startswith("https://")


def signin_page(request: Request, error: str = "", status: int = 200) -> Response:
    """The sign-in form, bound to a fresh pre-session cookie (CSRF for the sign-in itself)."""
    backend = backend_of(request)
    pre = backend.signer.new_presession()
    response = render(
        request, "signin.html", status=status, error=error, csrf=backend.signer.csrf(pre), title="Sign in"
    )
    response.set_cookie(
        PRESESSION_COOKIE,
        pre,
        max_age=PRESESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console",
    )
    return response


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return signin_page(request)


@router.post("/signin")
async def signin(request: Request) -> Response:
    backend = backend_of(request)
    form = await read_form(request)
    pre = request.cookies.get(PRESESSION_COOKIE, "")
    if not pre or not backend.signer.csrf_ok(pre, form.get("csrf")):
        return signin_page(request, "The sign-in form expired; please try again.", status=403)
    token = form.get("token", "").strip()
    record: TokenRecord | None = await backend.tokens.verify(token) if token else None
    if record is None:
        return signin_page(request, "That token is not valid (unknown, revoked or mistyped).", status=401)
    if record.role not in CONSOLE_ROLES:
        return signin_page(request, f"A token of role {record.role.value!r} cannot use the console.", 403)
    _session, cookie = backend.signer.issue(record.id, time.time())
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/console")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    backend = backend_of(request)
    who = await principal(request)
    form = await read_form(request)
    if not backend.signer.csrf_ok(who.session.sid, form.get("csrf")):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token: reload the page")
    now = time.time()
    backend.signed_out = {sid: exp for sid, exp in backend.signed_out.items() if exp > now}
    backend.signed_out[who.session.sid] = who.session.expires
    response = RedirectResponse("/console/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def now_page(request: Request) -> Response:
    try:
        who = await principal(request)
    except Exception:
        return signin_page(request)
    data = await backend_of(request).now_page(who)
    return render(request, "now.html", who=who, page="now", title="Now", **data)


@router.get("/now/live-fragment")
async def now_fragment(request: Request, who: Principal = Depends(principal)) -> Response:
    data = await backend_of(request).now_page(who)
    return render(request, "_now_live.html", who=who, **data)


@router.get("/activations/{activation_id}")
async def activation_page(
    request: Request,
    activation_id: str = ActivationId,
    done: str | None = Query(None, max_length=16),
    who: Principal = Depends(principal),
) -> Response:
    return await _activation(request, activation_id, who, notice=DONE.get(done or "", ""))


async def _activation(
    request: Request, activation_id: str, who: Principal, notice: str = "", error: str = "", status: int = 200
) -> Response:
    data = await backend_of(request).activation(activation_id, who)
    if data is None:
        raise HTTPException(status_code=404, detail="no such activation")
    return render(
        request,
        "activation.html",
        status=status,
        who=who,
        page="activation",
        notice=notice,
        error=error,
        formats=REPORT_FORMATS,
        audiences=AUDIENCES,
        title=f"Activation {data['view']['ref']}",
        **data,
    )


def _text(form: dict[str, str], name: str, limit: int = 2000) -> str:
    """A free-text field within the API's limit (422 beyond it: never cut and recorded cut)."""
    value = form.get(name, "")
    if len(value) > limit:
        raise HTTPException(status_code=422, detail=f"{name}: {len(value)} characters (at most {limit})")
    return value


#: a form action: does it with the engine and says which activation to show and what was done
Action = Callable[[EngineAPI, str, Principal, dict[str, str]], Awaitable[tuple[str, str]]]


async def _answer(
    engine: EngineAPI, activation_id: str, who: Principal, form: dict[str, str]
) -> tuple[str, str]:
    person = form.get("person", "")
    if not person or len(person) > 64:
        raise HTTPException(status_code=422, detail="choose whom you answer for")
    response = "decline" if form.get("response") == "decline" else "ack"
    before = await engine.get_activation(activation_id)
    after = await engine.acknowledge(activation_id, person, who.name, response)
    changed, _ = answer_outcome(_statuses_of(before, person), _statuses_of(after, person), after.status)
    return activation_id, response if changed else "unchanged"


def _statuses_of(view: ActivationView | None, person: str) -> frozenset[str]:
    nodes = view.nodes if view is not None else []
    return frozenset(p.status for node in nodes for p in node.people if p.person == person)


async def _cancel(
    engine: EngineAPI, activation_id: str, who: Principal, form: dict[str, str]
) -> tuple[str, str]:
    await engine.cancel(activation_id, who.name, _text(form, "reason"))
    return activation_id, "cancel"


async def _close(
    engine: EngineAPI, activation_id: str, who: Principal, form: dict[str, str]
) -> tuple[str, str]:
    await engine.close(activation_id, who.name, _text(form, "message") or None)
    return activation_id, "close"


async def _update(
    engine: EngineAPI, activation_id: str, who: Principal, form: dict[str, str]
) -> tuple[str, str]:
    """A coordinator's update to the people of the tree (issue 15's updates endpoint, same call)."""
    text = form.get("text", "").strip()
    if not text or len(text) > 1600:
        raise HTTPException(status_code=422, detail="an update needs a text of 1 to 1600 characters")
    audience = form.get("audience", "reached")
    if audience not in AUDIENCES:
        raise HTTPException(status_code=422, detail="choose who receives the update")
    await engine.update(activation_id, UpdateRequest(text=text, audience=audience, by=who.name))
    return activation_id, "update"


async def _page_again(
    engine: EngineAPI, activation_id: str, who: Principal, form: dict[str, str]
) -> tuple[str, str]:
    """A cancelled or closed activation's outage pages again: a new activation (issue 14's rule)."""
    again = await engine.page_again(activation_id, who.name, _text(form, "reason"))
    return again.id, "reopen"


ACTIONS: dict[str, Action] = {
    "ack": _answer,
    "cancel": _cancel,
    "close": _close,
    "update": _update,
    "page-again": _page_again,
}


@router.post("/activations/{activation_id}/{action}")
async def act(
    request: Request, activation_id: str = ActivationId, action: str = Path(max_length=16)
) -> Response:
    """Run one engine action from a form (CSRF and role checked first); back to the activation's
    page with the outcome, or the page again with the engine's refusal."""
    who, form = await acting(request)
    run = ACTIONS.get(action)
    if run is None:
        raise HTTPException(status_code=404, detail="unknown action")
    try:
        shown, done = await run(backend_of(request).service, activation_id, who, form)
    except EngineError as exc:
        return await _activation(request, activation_id, who, error=mask_text(str(exc)), status=409)
    return RedirectResponse(f"/console/activations/{shown}?done={done}", status_code=303)


@router.get("/activations/{activation_id}/report.{fmt}")
async def report(
    request: Request,
    activation_id: str = ActivationId,
    fmt: str = Path(),
    who: Principal = Depends(principal),
) -> Response:
    """The report in a browser tab, authorised by the session (masked for viewers, as the API)."""
    if fmt not in REPORT_FORMATS:
        raise HTTPException(status_code=404, detail="no such report format")
    content = await backend_of(request).service.report(activation_id, fmt)
    if content is None:
        raise HTTPException(status_code=404, detail="no such activation")
    if not who.can_act and fmt != "png":  # linear, but a report may be large: off the event loop
        text = content.decode("utf-8", errors="replace")
        content = (await asyncio.to_thread(mask_for_viewer, text, who.region)).encode()
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if fmt == "html":
        # the report's own page: no scripts at all
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return Response(content=content, media_type=MEDIA_TYPES[fmt], headers=headers)
