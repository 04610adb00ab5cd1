"""Informed channels through Apprise: Teams workflows, Slack, Matrix, Telegram, ntfy, JSON webhooks.

One-way posts for stakeholders and war rooms: activations, updates, completion and close are
posted to the `notify:` targets of a call tree or node; nothing that comes back from them counts as
an acknowledgement (the provider is not two-way). A target is an Apprise URL
(`msteams://...`, `slack://...`, `json://host/path`, `form://host/path`), or the name of one under
`providers.apprise.targets`, which keeps webhook secrets out of the call-tree files.
"""

from __future__ import annotations

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from notifier.channels.base import CHAT, OutboundMessage, Outcome, SendResult
from notifier.channels.registry import BuildContext, ProviderSpec, config_error, register

log = structlog.get_logger(__name__)


class AppriseSettings(BaseModel):
    """`providers.apprise` in the daemon configuration."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[str, SecretStr] = Field(
        default_factory=dict, description="named Apprise URLs that `notify:` entries may refer to"
    )


class AppriseProvider:
    name = "apprise"
    channels = frozenset({CHAT})
    two_way = False

    def __init__(self, settings: AppriseSettings) -> None:
        self.settings = settings

    def resolve(self, target: str) -> str:
        named = self.settings.targets.get(target)
        return named.get_secret_value() if named is not None else target

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        if msg.channel != CHAT:
            return SendResult(
                Outcome.FAILED, error_code="channel", detail="apprise posts to chat targets only"
            )
        import apprise  # a second's import with its plugins: paid on the first post, not at start-up

        posts = apprise.Apprise()
        if not posts.add(self.resolve(msg.to)):
            return SendResult(Outcome.INVALID, error_code="url", detail="not an Apprise URL or target name")
        title = msg.subject or ""
        try:
            ok = bool(await posts.async_notify(body=msg.text, title=title))
        except Exception as exc:  # a plugin error: it may or may not have been posted
            return SendResult(Outcome.UNKNOWN, error_code="apprise", detail=type(exc).__name__)
        log.info(
            "apprise.posted" if ok else "apprise.failed", attempt_id=msg.attempt_id, target=_kind(msg.to)
        )
        if ok:
            return SendResult(Outcome.ACCEPTED, detail="posted")
        return SendResult(
            Outcome.FAILED, error_code="post", detail="the target refused or could not be reached"
        )

    async def close(self) -> None:
        pass


def _kind(target: str) -> str:
    """What a log line may say about a target: its scheme or name, never its URL (it holds tokens)."""
    return target.split("://", 1)[0] + "://" if "://" in target else target


def _build(ctx: BuildContext) -> AppriseProvider:
    try:
        settings = AppriseSettings.model_validate(ctx.config("apprise"))
    except ValidationError as exc:
        raise config_error("apprise", exc) from None
    return AppriseProvider(settings)


register(ProviderSpec("apprise", frozenset({CHAT}), two_way=False, build=_build))
