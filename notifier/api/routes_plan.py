"""The current ITSCM plan, read-only. Viewers get contact details masked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from notifier.api.auth import READERS, require, sees_contacts
from notifier.api.context import get_context
from notifier.api.masking import mask_data
from notifier.api.tokens import TokenRecord

router = APIRouter(prefix="/api/v1", tags=["plan"])


@router.get("/plan")
async def get_plan(request: Request, who: TokenRecord = Depends(require(READERS))) -> dict[str, Any]:
    plan = await get_context(request).engine.plan_view()
    return plan if sees_contacts(who) else dict(mask_data(plan, get_context(request).phone_region))
