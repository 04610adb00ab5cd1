"""Twilio: SMS and voice, two-way (replies, status callbacks, keypresses come back by webhook).

`provider.py` sends; `status.py` reads Twilio's status words and error codes as channel-neutral
delivery reports; `voice.py` writes the TwiML of the acknowledgement call. The webhooks that
receive Twilio's requests are `notifier.api.twilio_webhooks` (they check `X-Twilio-Signature`).
Only this package and the sandbox know Twilio's codes and status words.
"""

from __future__ import annotations

from notifier.channels.registry import BuildContext, ProviderSpec, register
from notifier.channels.twilio.provider import TwilioProvider, classify_exception, classify_rest_error

__all__ = ["TwilioProvider", "classify_exception", "classify_rest_error"]


def _build(ctx: BuildContext) -> TwilioProvider:
    settings = ctx.settings.twilio
    return TwilioProvider(
        settings.account_sid,
        settings.auth_token.get_secret_value(),
        ctx.settings.twilio_webhook_base(),
        base_url=ctx.config("twilio").get("base_url", settings.base_url),
        timeout=settings.timeout,
    )


register(ProviderSpec("twilio", frozenset({"sms", "voice"}), two_way=True, build=_build))
