"""Failover: per channel an ordered list of providers; a failing one is taken out for a cool-down.

Rules (`ProviderChain.send`):

* Providers are tried in the configured order, skipping those in a cool-down. When every provider
  is cooling down, the one whose cool-down ends first is tried anyway (a message is never dropped
  for want of a provider).
* A provider *fails* when a send ends with `provider_down` (transport error, 5xx, timeout), or a
  health check fails. After `threshold` consecutive failures (or one failed health check) it is
  taken out for `cooldown`; one success resets the count. After the cool-down it is tried again
  (and its health check, if it has one, runs first): recovery is logged like failover.
* A send that certainly reached nobody (`not_sent`: connection refused, credentials refused) is
  handed to the next provider at once: nothing can be duplicated.
* A send whose outcome is unknown (timeout, 5xx: the provider may have taken it) is never repeated
  on another provider: the result goes back to the engine, whose acknowledgement wait and
  escalation decide what happens next. Duplicates are thus bounded by the sends in flight when the
  provider failed.

Every failover and recovery is logged (`provider.failover`, `provider.recovered`) and counted
through the `listener` (the daemon's `/metrics`); each result names the provider that answered,
which the report shows per attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from notifier.channels.base import (
    Found,
    HealthChecked,
    LookupFailed,
    OutboundMessage,
    Outcome,
    Provider,
    SendResult,
    SentQuery,
    SupportsLookup,
)
from notifier.clock import Clock

log = structlog.get_logger("notifier.failover")

#: (channel, provider, event) with event "failover" (taken out) or "recovered"; and per send
Listener = Callable[[str, str, str], None]


@dataclass
class _Health:
    failures: int = 0
    down_until: float | None = None  # clock timestamp; None: in service
    reason: str = ""


class ProviderHealth:
    """The health of every provider, shared by the chains (Twilio serves SMS and voice alike)."""

    def __init__(
        self,
        clock: Clock,
        threshold: int = 3,
        cooldown: timedelta = timedelta(seconds=60),
        listener: Listener | None = None,
    ) -> None:
        self.clock = clock
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.listener = listener or (lambda channel, provider, event: None)
        self._health: dict[str, _Health] = {}
        self._closed: set[int] = set()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def in_service(self, name: str) -> bool:
        health = self._health.get(name)
        return health is None or health.down_until is None or health.down_until <= self._now()

    def down_until(self, name: str) -> float:
        health = self._health.get(name)
        return (health.down_until or 0.0) if health else 0.0

    def fail(self, channel: str, name: str, reason: str, at_once: bool = False) -> None:
        health = self._health.setdefault(name, _Health())
        health.failures += 1
        if health.down_until is not None and health.down_until > self._now():
            return  # already out
        if at_once or health.failures >= self.threshold or health.down_until is not None:
            # (a provider back from a cool-down that fails again goes straight back out)
            health.down_until = self._now() + self.cooldown.total_seconds()
            health.reason = reason
            log.warning(
                "provider.failover",
                channel=channel,
                provider=name,
                reason=reason,
                cooldown_s=self.cooldown.total_seconds(),
            )
            self.listener(channel, name, "failover")

    async def check(self, providers: Sequence[Provider]) -> None:
        """Run the health checks of the providers that have one: a failing check takes a provider
        out at once; a passing one ends a cool-down that is over."""
        for provider in providers:
            if not isinstance(provider, HealthChecked):
                continue
            try:
                ok = bool(await asyncio.wait_for(provider.healthy(), timeout=10))
            except Exception:
                ok = False
            channels = ",".join(sorted(provider.channels))
            if not ok:
                self.fail(channels, provider.name, "health check failed", at_once=True)
            elif self._cooled_down(provider.name):
                # a passing check ends a cool-down that is over; it does not clear the failures of
                # real sends counted meanwhile (a provider that answers its health check but times
                # out every send, e.g., must still reach the threshold)
                self.succeed(channels, provider.name)

    def _cooled_down(self, name: str) -> bool:
        health = self._health.get(name)
        return health is not None and health.down_until is not None and health.down_until <= self._now()

    async def close_once(self, provider: Provider) -> None:
        if id(provider) not in self._closed:
            self._closed.add(id(provider))
            await provider.close()

    def succeed(self, channel: str, name: str) -> None:
        health = self._health.setdefault(name, _Health())
        health.failures = 0
        if health.down_until is not None:
            health.down_until = None
            log.info("provider.recovered", channel=channel, provider=name)
            self.listener(channel, name, "recovered")


class ProviderChain:
    """A `Provider` for one channel over an ordered list of providers (see the module rules)."""

    def __init__(self, channel: str, providers: Sequence[Provider], health: ProviderHealth) -> None:
        if not providers:
            raise ValueError(f"no provider for {channel}")
        self.channel = channel
        self.providers = list(providers)
        self.health = health
        self.name = "+".join(p.name for p in self.providers)
        self.channels = frozenset({channel})
        self.two_way = any(p.two_way for p in self.providers)

    def status(self) -> dict[str, bool]:
        """Per provider: in service (True) or cooling down (False)."""
        return {p.name: self.health.in_service(p.name) for p in self.providers}

    def candidates(self) -> list[Provider]:
        up = [p for p in self.providers if self.health.in_service(p.name)]
        if up:
            return up
        return [min(self.providers, key=lambda p: self.health.down_until(p.name))]

    # --- Provider --------------------------------------------------------------------------------
    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        result = SendResult(Outcome.FAILED, error_code="provider", detail=f"no provider for {self.channel}")
        passed: list[str] = []
        for provider in self.candidates():
            try:
                result = await provider.send(msg, sender)
            except Exception as exc:  # a provider bug: its outcome is unknown, and it counts as failing
                result = SendResult(
                    Outcome.UNKNOWN, detail=f"provider error: {type(exc).__name__}", provider_down=True
                )
            result = replace(result, provider=provider.name)
            if passed:
                result = replace(result, detail=f"{result.detail} (after {', '.join(passed)} failed)".strip())
            if not result.provider_down:
                self.health.succeed(self.channel, provider.name)
                return result
            self.health.fail(self.channel, provider.name, result.error_code or result.detail[:60])
            if not result.not_sent:
                return result  # it may have been sent: never repeated on another provider
            passed.append(provider.name)
            self.health.listener(self.channel, provider.name, "passed")
        return result

    async def lookup(self, query: SentQuery) -> list[Found]:
        """What the chain's providers created for `query` (reconciliation, issue 12): a message
        found at any of them was sent; none is "certainly not sent" only when every provider could
        be asked (one without `lookup`, or failing to answer, leaves it unknown: LookupFailed)."""
        found: list[Found] = []
        unsure = ""
        for provider in self.providers:
            if not isinstance(provider, SupportsLookup):
                unsure = f"{provider.name} cannot look up"
                continue
            try:
                found += [
                    replace(f, provider=f.provider or provider.name) for f in await provider.lookup(query)
                ]
            except LookupFailed as exc:
                unsure = f"{provider.name}: {exc}"
        if not found and unsure:
            raise LookupFailed(unsure)
        return sorted(found, key=lambda f: f.created_at)

    async def close(self) -> None:
        for provider in self.providers:
            await self.health.close_once(provider)
