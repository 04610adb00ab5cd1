"""The Start page: choose a call tree, kind, policy and message fields; preview and dry-run; start.

The preview (each channel's text) and the dry run (who, first channel, estimated time to reach the
last person) are computed from the snapshot the activation would freeze, without writing anything.
Starting goes through the same engine call as `POST /api/v1/activations`; what the engine refuses
(an unknown tree, a missing required field) is shown on the form with the values kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from notifier.api.limits import check_fields
from notifier.console.backend import Principal
from notifier.console.dryrun import dry_run, previews
from notifier.console.web import acting, backend_of, principal, render
from notifier.domain.calltree import ActivationKind
from notifier.domain.content import CONTENT_FIELDS, complete_content, required_fields
from notifier.domain.jsonlimits import JsonRejected
from notifier.domain.masking import mask_text
from notifier.engine.contract import EngineError, StartRequest
from notifier.engine.core import ActivationError

router = APIRouter(prefix="/console", include_in_schema=False)

#: the message fields a coordinator fills in, with their labels (issue 15's one set of names)
FIELDS: dict[str, str] = {name: text[:1].upper() + text[1:] for name, text in CONTENT_FIELDS.items()}


def _choices(request: Request) -> dict[str, Any]:
    config = backend_of(request).engine.config
    trees = [{"id": t.id, "name": t.name, "policy": t.policy} for t in config.trees.calltrees]
    policies = [{"id": p.id, "name": p.name or p.id} for p in config.trees.policies]
    return {"trees": trees, "policies": policies, "kinds": [str(k) for k in ActivationKind]}


def _values(form: dict[str, str]) -> dict[str, Any]:
    return {
        "tree": form.get("tree", ""),
        "kind": form.get("kind", "drill"),
        "policy": form.get("policy", ""),
        "reason": form.get("reason", ""),
        "fields": {name: form.get(f"field_{name}", "") for name in FIELDS},
    }


def _kind(value: str) -> ActivationKind:
    try:
        return ActivationKind(value)
    except ValueError:
        return ActivationKind.DRILL


def _content(request: Request, values: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """The fields the chosen tree and kind require, and what an empty field gets from the plan
    (derived values and defaults): the engine's own rules, so the form says what a start will do."""
    config = backend_of(request).engine.config
    tree = config.trees.tree(values["tree"])
    if tree is None:
        return set(), {}
    kind = _kind(values["kind"])
    return set(required_fields(tree, kind)), complete_content(config.plan, tree, kind, {}).fields


def _start_page(
    request: Request, who: Principal, values: dict[str, Any], status: int = 200, **extra: Any
) -> Response:
    required, defaults = _content(request, values)
    return render(
        request,
        "start.html",
        status=status,
        who=who,
        page="start",
        title="Start",
        field_labels=FIELDS,
        values=values,
        required=required,
        defaults=defaults,
        **_choices(request),
        **extra,
    )


@router.get("/start")
async def start_form(
    request: Request,
    who: Principal = Depends(principal),
    tree: str = Query("", max_length=64),
    kind: str = Query("drill", max_length=16),
    policy: str = Query("", max_length=64),
) -> Response:
    """The form; choosing another tree or kind re-renders it (required fields and defaults change)."""
    trees = _choices(request)["trees"]
    default_tree = trees[0]["id"] if trees else ""
    values = _values({"tree": tree or default_tree, "kind": kind, "policy": policy})
    return _start_page(request, who, values)


@router.post("/start/preview")
async def preview(request: Request) -> Response:
    """Preview and dry run of the form as filled in (nothing is started)."""
    who, form = await acting(request)
    values = _values(form)
    backend = backend_of(request)
    settings = backend.settings
    try:
        snap = backend.engine.prepare(values["tree"], _kind(values["kind"]), values["policy"] or None)
    except ActivationError as exc:
        return _start_page(request, who, values, status=422, errors=[mask_text(str(exc))])
    run = dry_run(snap, len(settings.twilio.from_numbers), settings.twilio.rate_per_sender)
    first = next((c.name for c in run.contacted), "")
    tree = backend.engine.config.trees.tree(values["tree"])
    given = {k: v for k, v in values["fields"].items() if v.strip()}
    if tree is not None:  # what the activation would start with: given, derived, defaults
        given = complete_content(backend.engine.config.plan, tree, _kind(values["kind"]), given).fields
    run.previews = previews(snap, given, first)
    return _start_page(request, who, values, run=run, tree_name=snap.tree_name)


@router.post("/start")
async def start(request: Request) -> Response:
    who, form = await acting(request)
    values = _values(form)
    if form.get("confirm") != "yes":
        return _start_page(request, who, values, status=422, errors=["Tick the confirmation box to start."])
    if values["kind"] not in {str(k) for k in ActivationKind}:  # a forged form: never a drill instead
        kinds = ", ".join(str(k) for k in ActivationKind)
        return _start_page(request, who, values, status=422, errors=[f"Choose a kind: {kinds}."])
    backend = backend_of(request)
    fields = {k: v for k, v in values["fields"].items() if v.strip()}
    try:  # the API's limits, refused by name (a long text is never cut silently)
        check_fields(fields, backend.settings.limits)
    except JsonRejected as exc:
        return _start_page(request, who, values, status=422, errors=list(exc.problems))
    if len(values["reason"]) > 2000:
        problem = f"reason: {len(values['reason'])} characters (at most 2000)"
        return _start_page(request, who, values, status=422, errors=[problem])
    req = StartRequest(
        tree_id=values["tree"][:64],
        kind=_kind(values["kind"]),
        fields=fields,
        started_by=who.name,
        reason=values["reason"],
        policy_id=values["policy"][:64] or None,
    )
    try:
        view = await backend.service.start_activation(req)
    except EngineError as exc:
        problems = list(getattr(exc, "problems", ()) or [str(exc)])
        return _start_page(request, who, values, status=422, errors=[mask_text(p) for p in problems])
    return RedirectResponse(f"/console/activations/{view.id}?done=started", status_code=303)
