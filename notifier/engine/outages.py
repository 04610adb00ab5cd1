"""Provider health as the dispatcher sees it: which channels are held, which outage rows wait out.

While every provider of a channel is out of service (the failover chain's cool-down,
`notifier.channels.failover`) that channel's rows are held in the queue rather than sent one by
one into a dead endpoint. Each outage is named once, from when it was first seen, so the planner
tells the coordinator once per outage (`ProviderFailing`), not once per message.

The providers mapping is keyed by channel name: a `ChannelKind` value ("sms", "voice", "email") or
"chat" (informed posts), plain strings or `ChannelKind` members alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.channels.base import Provider
from notifier.clock import Clock
from notifier.domain.events import ProviderFailing
from notifier.domain.plan import ChannelKind

KINDS = frozenset(kind.value for kind in ChannelKind)


class OutageWatch:
    def __init__(self, providers: Mapping[str, Provider], clock: Clock) -> None:
        self.providers = providers
        self.clock = clock
        #: provider outages by the providers down -> when first seen (names `ProviderFailing.outage`)
        self._outages: dict[str, str] = {}

    def held_channels(self) -> list[str]:
        """Channels whose every provider is out of service (in the failover chain's cool-down)."""
        held = []
        for channel, provider in self.providers.items():
            status = getattr(provider, "status", None)
            if status is not None and not any(status().values()):
                held.append(_name(channel))
        return held

    def in_service(self) -> dict[str, bool]:
        """Provider name -> in service (False while it fails: its messages wait and are retried)."""
        found: dict[str, bool] = {}
        for provider in self.providers.values():
            status = getattr(provider, "status", None)
            found.update(status() if status is not None else {getattr(provider, "name", "?"): True})
        return found

    def status_of(self, channel: str) -> dict[str, bool]:
        status = getattr(self.providers.get(channel), "status", None)
        return dict(status()) if status is not None else {}

    def outage(self, channel: str) -> ProviderFailing | None:
        """The outage a channel's rows are waiting out, named once from when it began."""
        provider = self.providers.get(channel)
        status = getattr(provider, "status", None)
        if provider is None or status is None:
            return None
        down = sorted(name for name, up in status().items() if not up)
        if not down or len(down) < len(status()):
            return None  # another provider still serves the channel
        key = "+".join(down)
        began = self._outages.setdefault(key, self.clock.now().isoformat(timespec="seconds"))
        carried = sorted(
            _name(c) for c in self.providers if _name(c) in KINDS and set(self.status_of(c)) & set(down)
        )
        return ProviderFailing(
            outage=f"{key}@{began}",
            channels=tuple(ChannelKind(c) for c in carried),
            detail=f"{key} not reachable",
        )

    def ended(self, provider: str) -> None:
        """`provider` answered: the outages it was part of are over."""
        for key in [k for k in self._outages if provider in k.split("+")]:
            del self._outages[key]


def _name(channel: str) -> str:
    """A provider key's channel name ("sms", "chat"), whether a `ChannelKind` or a plain string."""
    return channel.value if isinstance(channel, ChannelKind) else str(channel)
