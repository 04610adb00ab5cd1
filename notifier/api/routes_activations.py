"""Activations: start, watch, acknowledge on someone's behalf, send updates, cancel, close, page again,
report.

An activation is named by its id or by its reference code (the one in the SMS, e.g. `K7Q`).

Who started or changed an activation is taken from the token (its name), never from the body, so
the activity log says who really did it. Viewers get every view with contact details masked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from notifier.api.auth import OPERATORS, READERS, require, sees_contacts
from notifier.api.context import get_context
from notifier.api.engine_api import (
    ActivationSummary,
    ActivationView,
    EngineAPI,
    StartRequest,
    UpdateReceipt,
    UpdateRequest,
)
from notifier.api.limits import check_fields
from notifier.api.masking import mask_data
from notifier.api.tokens import TokenRecord
from notifier.domain.calltree import ActivationKind
from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.events import AUDIENCE_PATTERN
from notifier.domain.masking import mask_for_viewer

router = APIRouter(prefix="/api/v1/activations", tags=["activations"])

ActivationId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
_MEDIA = {"md": "text/markdown", "html": "text/html", "csv": "text/csv", "json": "application/json"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartBody(_Body):
    tree: str = Field(min_length=1, max_length=64, examples=["seed-incident"])
    kind: ActivationKind = ActivationKind.INCIDENT
    reason: str = Field("", max_length=2000)
    policy: str | None = Field(None, max_length=64)
    invoked_by: str | None = Field(
        None,
        max_length=64,
        description="person id of the plan's invocation authority (or a successor) who decided to invoke; "
        "recorded on the activation",
        examples=["p-verhoeven"],
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="message fields: " + ", ".join(CONTENT_FIELDS) + "; unknown names are refused, "
        "missing required ones are filled from the plan's defaults or refused (422, per field path)",
        examples=[
            {
                "nature": "SEED excise database unavailable since 06:10 CET",
                "convene": "Crisis room, Service Desk Alpha, 07:00 CET",
                "instructions": "Team leads: call your team members",
            }
        ],
    )


class UpdateBody(_Body):
    text: str = Field(min_length=1, max_length=1600, examples=["SEED failover to the secondary site done"])
    audience: str = Field(
        "reached",
        pattern=AUDIENCE_PATTERN,
        max_length=80,
        description="reached (default): everyone a message reached; pending: everyone being tried who "
        "has not answered; all: both; node:<node id>: either, in that node's subtree",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="revised message fields (" + ", ".join(CONTENT_FIELDS) + "); later messages carry them",
        examples=[{"outage_estimate": "2 h more", "convene": "Luxembourg remote site, 14:00"}],
    )


class AckBody(_Body):
    person: str = Field(min_length=1, max_length=64)
    response: Literal["ack", "decline"] = "ack"


class CancelBody(_Body):
    reason: str = Field("", max_length=2000)


class CloseBody(_Body):
    message: str | None = Field(None, max_length=2000)


def visible(view: ActivationView, principal: TokenRecord, region: str | None = None) -> ActivationView:
    if sees_contacts(principal):
        return view
    return ActivationView.model_validate(mask_data(view.model_dump(mode="json"), region))


@dataclass(frozen=True)
class Acting:
    """An operator's action on one activation (named by id or ref): the engine and who acts."""

    engine: EngineAPI
    activation_id: str
    who: TokenRecord


async def acting(
    request: Request, activation_id: str = ActivationId, who: TokenRecord = Depends(require(OPERATORS))
) -> Acting:
    return Acting(get_context(request).engine, activation_id, who)


def _found(view: ActivationView | None) -> ActivationView:
    if view is None:
        raise HTTPException(status_code=404, detail="no such activation")
    return view


@router.post("", status_code=201, response_model=ActivationView)
async def start(
    body: StartBody, request: Request, who: TokenRecord = Depends(require(OPERATORS))
) -> ActivationView:
    check_fields(body.fields, get_context(request).settings.limits)
    req = StartRequest(
        tree_id=body.tree,
        kind=body.kind,
        fields=body.fields,
        started_by=who.name,
        reason=body.reason,
        policy_id=body.policy,
        invoked_by=body.invoked_by,
    )
    return await get_context(request).engine.start_activation(req)


@router.get("", response_model=list[ActivationSummary])
async def list_activations(
    request: Request,
    status: str | None = Query(None, max_length=32),
    limit: int = Query(50, ge=1, le=500),
    _: TokenRecord = Depends(require(READERS)),
) -> list[ActivationSummary]:
    return await get_context(request).engine.list_activations(status, limit)


@router.get("/{activation_id}", response_model=ActivationView)
async def get_activation(
    request: Request, activation_id: str = ActivationId, who: TokenRecord = Depends(require(READERS))
) -> ActivationView:
    context = get_context(request)
    view = _found(await context.engine.get_activation(activation_id))
    return visible(view, who, context.phone_region)


@router.post("/{activation_id}/ack", response_model=ActivationView)
async def acknowledge(body: AckBody, act: Acting = Depends(acting)) -> ActivationView:
    return await act.engine.acknowledge(act.activation_id, body.person, act.who.name, body.response)


@router.post("/{activation_id}/cancel", response_model=ActivationView)
async def cancel(body: CancelBody, act: Acting = Depends(acting)) -> ActivationView:
    return await act.engine.cancel(act.activation_id, act.who.name, body.reason)


@router.post("/{activation_id}/close", response_model=ActivationView)
async def close(body: CloseBody, act: Acting = Depends(acting)) -> ActivationView:
    return await act.engine.close(act.activation_id, act.who.name, body.message)


@router.post("/{activation_id}/updates", status_code=202, response_model=UpdateReceipt)
async def post_update(body: UpdateBody, request: Request, act: Acting = Depends(acting)) -> UpdateReceipt:
    """Send an update (revised estimate, new convene point, free text), rendered per channel with the
    tree's update template; 202: its messages are queued in the outbox and sent by the dispatcher."""
    check_fields(body.fields, get_context(request).settings.limits)
    req = UpdateRequest(text=body.text, audience=body.audience, fields=body.fields, by=act.who.name)
    return await act.engine.update(act.activation_id, req)


def _masked_report(content: bytes, region: str | None) -> bytes:
    return mask_for_viewer(content.decode("utf-8", errors="replace"), region).encode()


class PageAgainBody(_Body):
    reason: str = Field("", max_length=2000)


@router.post("/{activation_id}/page-again", status_code=201, response_model=ActivationView)
async def page_again(body: PageAgainBody, act: Acting = Depends(acting)) -> ActivationView:
    """Page again for the outage of a cancelled or closed activation (its alerts were suppressed):
    a new activation of the same tree, which the incident's alerts join from now on."""
    return await act.engine.page_again(act.activation_id, act.who.name, body.reason)


@router.get("/{activation_id}/report", response_class=Response)
async def report(
    request: Request,
    activation_id: str = ActivationId,
    fmt: Literal["md", "html", "csv", "json"] = Query("md", alias="format"),
    who: TokenRecord = Depends(require(READERS)),
) -> Response:
    context = get_context(request)
    content = await context.engine.report(activation_id, fmt)
    if content is None:
        raise HTTPException(status_code=404, detail="no such activation")
    if not sees_contacts(who):  # linear, but a report may be large: off the event loop
        content = await asyncio.to_thread(_masked_report, content, context.phone_region)
    return Response(content=content, media_type=_MEDIA[fmt])
