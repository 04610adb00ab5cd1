"""The Drills, Plan and Tokens pages.

Drills: the schedule (next run in the organisation's zone), past drills with their verdicts, and a
trend of time to complete against the limit (an inline SVG: no script, readable as a table too).
Plan: services with their BIA, roles, teams, people (masked for viewers), vendors, sites, the plan
check's findings as a readiness view, plan versions and the record of changes of the latest.
Tokens (admin only): list, create (the token is shown once), revoke.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from notifier.api.tokens import Role
from notifier.console.backend import Principal
from notifier.console.web import admin_form, backend_of, principal, render

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/drills")
async def drills(request: Request, who: Principal = Depends(principal)) -> Response:
    data = await backend_of(request).drills_page()
    return render(request, "drills.html", who=who, page="drills", title="Drills", **data)


@router.get("/plan")
async def plan(request: Request, who: Principal = Depends(principal)) -> Response:
    backend = backend_of(request)
    data = await backend.plan_page(who, backend.now().astimezone(backend.zone).date())
    return render(request, "plan.html", who=who, page="plan", title="Plan", **data)


async def _tokens_page(request: Request, who: Principal, created: str = "", status: int = 200) -> Response:
    if not who.is_admin:
        raise HTTPException(status_code=403, detail="only an admin manages tokens")
    tokens = await backend_of(request).tokens.list()
    return render(
        request,
        "tokens.html",
        status=status,
        who=who,
        page="tokens",
        title="Tokens",
        tokens=tokens,
        roles=[r.value for r in Role],
        created=created,
    )


@router.get("/tokens")
async def tokens(request: Request, who: Principal = Depends(principal)) -> Response:
    return await _tokens_page(request, who)


@router.post("/tokens")
async def create_token(request: Request) -> Response:
    who, form = await admin_form(request)
    name = form.get("name", "").strip()
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        raise HTTPException(status_code=422, detail="choose a role") from None
    if not name or len(name) > 64:
        raise HTTPException(status_code=422, detail="a token needs a name of 1 to 64 characters")
    _record, token = await backend_of(request).tokens.create(name, role)
    # shown once, in the answer to this POST only (never in a URL, never logged)
    return await _tokens_page(request, who, created=token, status=201)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int = Path(ge=1)) -> Response:
    who, _form = await admin_form(request)
    if await backend_of(request).tokens.revoke(token_id) is None:
        raise HTTPException(status_code=404, detail="no such token")
    return await _tokens_page(request, who)
