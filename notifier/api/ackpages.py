"""Email acknowledgement pages: `GET /ack/{token}` shows, only `POST /ack/{token}` records.

Mail scanners and link previewers fetch every link in a message; if a GET recorded an answer, a
scanner would "acknowledge" for a person who never read the email. So GET renders the activation
and two buttons, and the answer is taken only from the form POST. Both verify the signed token:
an altered or forged link is 403, an expired one 410, and neither changes anything.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from notifier.api.acktokens import AckTokenExpired, AckTokenInvalid, make_ack_token, verify_ack_token
from notifier.api.context import get_context
from notifier.api.engine_api import AckPageView, Conflict, EngineError, NotFound, StoreUnavailable

__all__ = ["make_ack_token", "router", "verify_ack_token"]

router = APIRouter(tags=["ack"], include_in_schema=False)

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}"
    "button{font-size:1.2em;margin:.3em}"
)


def _page(status: int, title: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(content=html, status_code=status, headers=_HEADERS)


def _message(status: int, title: str, text: str) -> HTMLResponse:
    return _page(status, title, f"<p>{escape(text)}</p>")


def _attempt_or_error(request: Request, token: str) -> str | HTMLResponse:
    context = get_context(request)
    try:
        return verify_ack_token(context.settings.secret_key.get_secret_value(), token, context.clock.now())
    except AckTokenExpired:
        return _message(410, "Link expired", "This acknowledgement link has expired. Reply by SMS or phone.")
    except AckTokenInvalid:
        return _message(403, "Invalid link", "This acknowledgement link is not valid.")


def _show(view: AckPageView) -> HTMLResponse:
    facts = (
        f"<p><strong>{escape(view.summary)}</strong></p>"
        f"<p>Call tree: {escape(view.tree_name)} &middot; {escape(view.kind.value)} &middot; "
        f"ref {escape(view.ref)}</p><p>For: {escape(view.person_name)}</p>"
    )
    if view.answered:
        facts += f"<p>Your answer <strong>{escape(view.answered)}</strong> is recorded.</p>"
    if not view.open:
        return _page(200, "Activation closed", facts + "<p>This activation is no longer open.</p>")
    form = (
        '<form method="post">'
        '<button type="submit" name="response" value="ack">I confirm: I can respond</button>'
        '<button type="submit" name="response" value="decline">I cannot respond</button>'
        "</form>"
    )
    return _page(200, "Acknowledge activation", facts + form)


@router.get("/ack/{token}", response_class=HTMLResponse)
async def show(request: Request, token: str) -> HTMLResponse:
    attempt = _attempt_or_error(request, token)
    if isinstance(attempt, HTMLResponse):
        return attempt
    try:
        view = await get_context(request).engine.ack_page(attempt)
    except StoreUnavailable:
        return _message(503, "Try again", "The service is briefly unavailable; reload this page in a minute.")
    if view is None:
        return _message(404, "Unknown link", "This acknowledgement link does not match any notification.")
    return _show(view)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def record(request: Request, token: str) -> HTMLResponse:
    attempt = _attempt_or_error(request, token)
    if isinstance(attempt, HTMLResponse):
        return attempt
    body = (await request.body())[:4096].decode("utf-8", errors="replace")
    response = dict(parse_qsl(body)).get("response")
    if response not in ("ack", "decline"):
        return _message(400, "Choose an answer", "Use one of the two buttons on the previous page.")
    try:
        confirmation = await get_context(request).engine.email_ack(attempt, response)
    except StoreUnavailable:
        return _message(
            503, "Try again", "Your answer was not recorded; please press the button again shortly."
        )
    except NotFound:
        return _message(404, "Unknown link", "This acknowledgement link does not match any notification.")
    except Conflict as exc:
        return _message(409, "Not recorded", str(exc) or "This activation no longer accepts answers.")
    except EngineError as exc:
        return _message(422, "Not recorded", str(exc) or "The answer could not be recorded.")
    return _message(200, "Thank you", confirmation)
