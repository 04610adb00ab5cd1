"""Provider health as the dispatcher reads it (`engine/outages.py`), over real failover chains.

The runtime keys its chains by plain channel names ("sms", "voice", "email", "chat"); an engine
built elsewhere may key them by `ChannelKind`. Either way a held channel is named by its plain
value (the claim's SQL compares it with `outbox.channel`), the informed "chat" channel is held like
the others, and an outage of a chat-only provider names no acknowledgement channel.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from notifier.channels.apprise import AppriseProvider, AppriseSettings
from notifier.channels.base import Provider
from notifier.channels.failover import ProviderChain, ProviderHealth
from notifier.channels.twilio.provider import TwilioProvider
from notifier.clock import RealClock
from notifier.domain.plan import ChannelKind
from notifier.engine.outages import OutageWatch


def _chains(keyed_by_kind: bool) -> tuple[dict[str, Provider], ProviderHealth]:
    health = ProviderHealth(RealClock(), threshold=1, cooldown=timedelta(minutes=5))
    twilio = TwilioProvider("AC" + "0" * 32, "token", "http://127.0.0.1:9", base_url="http://127.0.0.1:9")
    chat = AppriseProvider(AppriseSettings())
    sms: str = ChannelKind.SMS if keyed_by_kind else "sms"
    voice: str = ChannelKind.VOICE if keyed_by_kind else "voice"
    providers: dict[str, Provider] = {
        sms: ProviderChain("sms", [twilio], health),
        voice: ProviderChain("voice", [twilio], health),
        "chat": ProviderChain("chat", [chat], health),
    }
    return providers, health


@pytest.mark.parametrize("keyed_by_kind", [False, True], ids=["plain-keys", "channelkind-keys"])
async def test_held_channels_and_outages_with_chat_and_plain_keys(keyed_by_kind: bool) -> None:
    providers, health = _chains(keyed_by_kind)
    try:
        _check(providers, health)
    finally:
        await providers["sms"].close()


def _check(providers: dict[str, Provider], health: ProviderHealth) -> None:
    watch = OutageWatch(providers, RealClock())
    assert watch.held_channels() == []
    assert watch.outage("chat") is None and watch.outage("sms") is None

    health.fail("chat", "apprise", "refused", at_once=True)
    assert watch.held_channels() == ["chat"]
    assert all(type(c) is str for c in watch.held_channels())
    chat_outage = watch.outage("chat")
    assert chat_outage is not None and chat_outage.channels == ()  # nobody acknowledges by chat
    assert watch.in_service() == {"twilio": True, "apprise": False}

    health.fail("sms", "twilio", "connect", at_once=True)
    assert sorted(watch.held_channels()) == ["chat", "sms", "voice"]
    assert all(type(c) is str for c in watch.held_channels())
    outage = watch.outage("sms")
    assert outage is not None
    assert outage.channels == (ChannelKind.SMS, ChannelKind.VOICE)  # one outage, both channels
    assert watch.outage("voice") == outage  # named once, from when it began

    health.succeed("sms", "twilio")
    watch.ended("twilio")
    assert sorted(watch.held_channels()) == ["chat"] and watch.outage("sms") is None
