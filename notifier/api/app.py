"""`create_app`: the FastAPI application the daemon serves with uvicorn inside its own loop."""

from __future__ import annotations

from fastapi import FastAPI

from notifier.api import ackpages, health, routes_activations, routes_alerts, routes_pagerduty, routes_plan
from notifier.api.context import ApiContext, TokenVerifier
from notifier.api.engine_api import EngineAPI
from notifier.api.errors import install_error_handlers
from notifier.api.intake_log import RejectedIntake
from notifier.api.limits import BodyLimits
from notifier.api.openapi_errors import document_errors
from notifier.api.twilio_webhooks import TwilioWebhooks
from notifier.api.webhook_spool import WebhookSpool
from notifier.channels import registry
from notifier.clock import Clock, RealClock
from notifier.settings import Settings


def create_app(
    engine: EngineAPI,
    settings: Settings,
    tokens: TokenVerifier,
    clock: Clock | None = None,
    phone_region: str | None = None,
    spool: WebhookSpool | None = None,
) -> FastAPI:
    """The HTTP surface: REST API under /api/v1, Twilio webhooks, email ack pages, health.

    `tokens` is normally a `notifier.api.tokens.TokenStore` on the daemon's database;
    `phone_region` (default `settings.phone_region`) is where numbers without + are read;
    `spool` keeps verified Twilio webhooks the store cannot take now (the daemon drains it).
    """
    app = FastAPI(
        title="notifier",
        version="1",
        description="Call-tree dispatch driven by an IT service continuity plan.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = ApiContext(
        engine=engine,
        settings=settings,
        tokens=tokens,
        clock=clock or RealClock(),
        phone_region=phone_region or settings.phone_region,
        spool=spool,
    )
    install_error_handlers(app)
    document_errors(app)
    for module in (health, routes_alerts, routes_pagerduty, routes_activations, routes_plan, ackpages):
        app.include_router(module.router)
    for router in registry.webhook_routers(settings):  # e.g. /webhooks/kannel/* when configured
        app.include_router(router)
    app.add_middleware(TwilioWebhooks)  # /webhooks/twilio/*: served ahead of the router (see there)
    app.add_middleware(BodyLimits, limits=settings.limits)  # ahead of both: bodies bounded first
    # outermost: sees every refusal of an alert request, BodyLimits' 413s included; reads no body
    app.add_middleware(RejectedIntake)  # refused alert requests: logged, stored, counted
    return app
