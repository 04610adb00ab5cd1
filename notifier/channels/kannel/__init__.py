"""Kannel: SMS through the operators' on-premises gateway, two-way (replies and DLRs by webhook).

`provider.py` sends through smsbox's sendsms interface; `webhooks.py` receives delivery reports
and replies. Configure under `providers.kannel` (see `KannelSettings`) and name it in
`delivery.sms`, e.g. `[twilio, kannel]` to fail Twilio over to the gateway.
"""

from __future__ import annotations

from pydantic import ValidationError

from notifier.channels.kannel.provider import KannelProvider, KannelSettings
from notifier.channels.registry import BuildContext, ProviderSpec, config_error, register

__all__ = ["KannelProvider", "KannelSettings"]


def _build(ctx: BuildContext) -> KannelProvider:
    try:
        settings = KannelSettings.model_validate(ctx.config("kannel"))
    except ValidationError as exc:
        raise config_error("kannel", exc) from None
    return KannelProvider(settings, ctx.settings.public_base_url)


def _routes() -> object:
    from notifier.channels.kannel.webhooks import router

    return router


register(ProviderSpec("kannel", frozenset({"sms"}), two_way=True, build=_build, routes=_routes))
