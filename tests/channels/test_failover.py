"""Failover rules of `ProviderChain` (the selection layer under the dispatcher), one test per rule.

The providers here are scripted stand-ins for the rules only; the real thing (Twilio sandbox
answering 5xx, Kannel with fakesmsc) is exercised in tests/channels/test_kannel_failover.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from notifier.channels.base import OutboundMessage, Outcome, SendResult
from notifier.channels.failover import ProviderChain, ProviderHealth

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOWN_5XX = SendResult(Outcome.UNKNOWN, error_code="503", provider_down=True)
REFUSED = SendResult(Outcome.FAILED, error_code="connect", provider_down=True, not_sent=True)
OK = SendResult(Outcome.ACCEPTED, provider_id="id-1")


@dataclass
class Clock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Scripted:
    name: str
    answers: list[SendResult] = field(default_factory=list)
    default: SendResult = OK
    up: bool = True
    sent: list[str] = field(default_factory=list)
    channels: frozenset[str] = frozenset({"sms"})
    two_way: bool = True

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        self.sent.append(msg.attempt_id)
        return self.answers.pop(0) if self.answers else self.default

    async def healthy(self) -> bool:
        return self.up

    async def close(self) -> None:
        pass


def message(n: int) -> OutboundMessage:
    return OutboundMessage(attempt_id=f"a{n}", channel="sms", to="+32470990201", text="SEED is down")


def chain(
    *providers: Scripted, threshold: int = 3
) -> tuple[ProviderChain, Clock, list[tuple[str, str, str]]]:
    clock = Clock()
    events: list[tuple[str, str, str]] = []
    health = ProviderHealth(clock, threshold, timedelta(seconds=60), lambda *e: events.append(e))
    return ProviderChain("sms", list(providers), health), clock, events


async def test_the_first_provider_in_service_sends_and_the_result_names_it() -> None:
    twilio, kannel = Scripted("twilio"), Scripted("kannel")
    sms, _, _ = chain(twilio, kannel)
    result = await sms.send(message(1), "+15005550006")
    assert (result.outcome, result.provider, twilio.sent, kannel.sent) == (
        Outcome.ACCEPTED,
        "twilio",
        ["a1"],
        [],
    )


async def test_an_unknown_outcome_is_never_repeated_on_another_provider() -> None:
    twilio, kannel = Scripted("twilio", default=DOWN_5XX), Scripted("kannel")
    sms, _, _ = chain(twilio, kannel)
    result = await sms.send(message(1), None)
    assert result.outcome is Outcome.UNKNOWN and result.provider == "twilio"
    assert kannel.sent == []


async def test_after_threshold_failures_the_provider_cools_down_and_the_next_one_sends() -> None:
    twilio, kannel = Scripted("twilio", default=DOWN_5XX), Scripted("kannel")
    sms, _, events = chain(twilio, kannel, threshold=3)
    for n in range(3):
        await sms.send(message(n), None)
    assert events == [("sms", "twilio", "failover")]
    result = await sms.send(message(9), None)
    assert result.provider == "kannel" and twilio.sent == ["a0", "a1", "a2"] and kannel.sent == ["a9"]
    assert sms.status() == {"twilio": False, "kannel": True}


async def test_one_success_resets_the_count_of_failures() -> None:
    twilio = Scripted("twilio", answers=[DOWN_5XX, DOWN_5XX, OK, DOWN_5XX, DOWN_5XX])
    sms, _, events = chain(twilio, Scripted("kannel"), threshold=3)
    for n in range(5):
        await sms.send(message(n), None)
    assert events == [] and sms.status()["twilio"]


async def test_a_passing_health_check_does_not_clear_the_failures_of_real_sends() -> None:
    """A provider that answers its health check but fails every send (e.g. times out) still goes
    out after `threshold` failed sends, however often the check runs between them."""
    twilio, kannel = Scripted("twilio", default=DOWN_5XX), Scripted("kannel")
    sms, _, events = chain(twilio, kannel, threshold=3)
    for n in range(3):
        await sms.health.check([twilio, kannel])
        await sms.send(message(n), None)
    assert events == [("sms", "twilio", "failover")] and twilio.sent == ["a0", "a1", "a2"]


async def test_a_send_that_reached_nobody_goes_to_the_next_provider_at_once() -> None:
    twilio, kannel = Scripted("twilio", default=REFUSED), Scripted("kannel")
    sms, _, events = chain(twilio, kannel, threshold=3)
    result = await sms.send(message(1), None)
    assert (result.outcome, result.provider) == (Outcome.ACCEPTED, "kannel")
    assert "after twilio failed" in result.detail
    assert events == [("sms", "twilio", "passed")]


async def test_after_the_cooldown_the_provider_is_tried_again_and_recovery_is_reported() -> None:
    twilio, kannel = Scripted("twilio", answers=[DOWN_5XX]), Scripted("kannel")
    sms, clock, events = chain(twilio, kannel, threshold=1)
    await sms.send(message(1), None)
    await clock.sleep(59)
    assert (await sms.send(message(2), None)).provider == "kannel"
    await clock.sleep(2)
    assert (await sms.send(message(3), None)).provider == "twilio"
    assert events == [("sms", "twilio", "failover"), ("sms", "twilio", "recovered")]


async def test_a_provider_failing_again_after_its_cooldown_goes_straight_back_out() -> None:
    twilio, kannel = Scripted("twilio", default=DOWN_5XX), Scripted("kannel")
    sms, clock, events = chain(twilio, kannel, threshold=3)
    for n in range(3):
        await sms.send(message(n), None)
    await clock.sleep(61)
    await sms.send(message(4), None)  # one failure is enough now
    assert events == [("sms", "twilio", "failover")] * 2
    assert (await sms.send(message(5), None)).provider == "kannel"


async def test_when_every_provider_is_out_the_one_back_soonest_is_tried() -> None:
    twilio, kannel = Scripted("twilio", default=DOWN_5XX), Scripted("kannel", default=DOWN_5XX)
    sms, clock, _ = chain(twilio, kannel, threshold=1)
    await sms.send(message(1), None)  # twilio out until +60
    await clock.sleep(10)
    await sms.send(message(2), None)  # kannel out until +70
    kannel.default = OK
    await sms.send(message(3), None)
    assert twilio.sent == ["a1", "a3"]


async def test_a_failing_health_check_takes_a_provider_out_before_any_send() -> None:
    twilio, kannel = Scripted("twilio", up=False), Scripted("kannel")
    sms, clock, events = chain(twilio, kannel)
    await sms.health.check([twilio, kannel])
    assert (await sms.send(message(1), None)).provider == "kannel"
    twilio.up = True
    await clock.sleep(61)
    await sms.health.check([twilio, kannel])
    assert events == [("sms", "twilio", "failover"), ("sms", "twilio", "recovered")]
    assert (await sms.send(message(2), None)).provider == "twilio"


async def test_health_is_shared_by_the_channels_a_provider_serves() -> None:
    twilio, kannel = (
        Scripted("twilio", default=DOWN_5XX, channels=frozenset({"sms", "voice"})),
        Scripted("kannel"),
    )
    health = ProviderHealth(Clock(), 1, timedelta(seconds=60))
    sms, voice = ProviderChain("sms", [twilio, kannel], health), ProviderChain("voice", [twilio], health)
    await sms.send(message(1), None)
    assert voice.status() == {"twilio": False}
