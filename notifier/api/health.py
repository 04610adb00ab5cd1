"""Liveness and readiness, unauthenticated so that systemd, load balancers and probes can call them.

`/healthz` answers as long as the event loop does. `/readyz` asks the engine about each dependency
(the store, the dispatcher; the MQTT broker when MQTT is enabled) and answers 503 until all are
ready, so a load balancer sends no traffic to an instance that cannot store what it accepts.
It also says whether each message provider is taking messages (`providers`, with `degraded` true
while one fails). A failing provider does not make the instance unready: it must go on taking
replies, webhooks and alerts, and its messages are held and retried, not lost.
Neither reveals anything beyond component names and booleans.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from notifier.api.context import get_context

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    context = get_context(request)
    try:
        checks = await context.engine.ready()
    except Exception:  # a failing check means "not ready", never a 500 with details
        checks = {"engine": False}
    if context.settings.mqtt.enabled:
        # the MQTT consumer reports its connection through `notifier.metrics.set_mqtt_connected`
        from notifier.metrics import mqtt_connected

        checks["mqtt"] = mqtt_connected(getattr(request.app.state, "metrics", None))
    ready = bool(checks) and all(checks.values())
    try:
        providers = context.engine.providers()
    except Exception:
        providers = {}
    return JSONResponse(
        status_code=200 if ready else 503,
        content={
            "ready": ready,
            "checks": {k: bool(v) for k, v in checks.items()},
            "providers": {k: bool(v) for k, v in providers.items()},
            "degraded": not all(providers.values()),
        },
    )
