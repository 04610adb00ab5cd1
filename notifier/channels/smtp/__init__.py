"""SMTP email through a relay (send-only: answers come back through signed ack links)."""

from __future__ import annotations

from notifier.channels.registry import BuildContext, ProviderSpec, register
from notifier.channels.smtp.provider import ATTEMPT_HEADER, SmtpProvider, build_email, classify_smtp_error

__all__ = ["ATTEMPT_HEADER", "SmtpProvider", "build_email", "classify_smtp_error"]


def _build(ctx: BuildContext) -> SmtpProvider:
    settings = ctx.settings.smtp
    override = ctx.config("smtp")
    return SmtpProvider(
        override.get("host", settings.host),
        override.get("port", settings.port),
        settings.sender,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        start_tls=settings.start_tls,
        use_tls=settings.use_tls,
    )


register(ProviderSpec("smtp", frozenset({"email"}), two_way=False, build=_build))
