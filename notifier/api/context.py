"""What every request handler needs, kept on `app.state` by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from notifier.api.engine_api import EngineAPI
from notifier.api.tokens import TokenRecord
from notifier.api.webhook_spool import WebhookSpool
from notifier.clock import Clock
from notifier.settings import Settings


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> TokenRecord | None: ...


@dataclass(frozen=True)
class ApiContext:
    engine: EngineAPI
    settings: Settings
    tokens: TokenVerifier
    clock: Clock
    phone_region: str | None = None  # numbers without + are read as dialled here (viewer masking)
    spool: WebhookSpool | None = None  # Twilio webhooks the store cannot take now (None: answer 503)


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context
