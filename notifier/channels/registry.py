"""The provider registry: which providers exist, what they serve, and how to build one.

Each provider is a package `notifier.channels.<name>` that calls `register(ProviderSpec(...))` when
imported. `spec(name)` imports `notifier.channels.<name>` on first use, so the daemon's
configuration (`delivery.sms: [twilio, kannel]`) is all it takes to use a provider; nothing in
the engine, the domain or the API names one. A provider outside this package can be named by its
module path (`delivery.sms: [mycompany.notifier_sms]`); the module registers itself the same way,
under the name it gives.

A provider's own settings are its business: it reads them from `Settings.providers[<name>]`
(free-form YAML, validated by the provider's own pydantic model) or, for the built-in Twilio and
SMTP, from their historical top-level sections.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from notifier.channels.base import CHANNELS, Provider

if TYPE_CHECKING:
    from notifier.settings import Settings


class ProviderError(ValueError):
    """A provider cannot be found or built from its configuration; the message says why."""


def config_error(name: str, exc: ValidationError) -> ProviderError:
    """`providers.<name>.<field>: <what is wrong>` for each problem, on one line each."""
    lines = [
        f"providers.{name}" + "".join(f".{part}" for part in error["loc"]) + f": {error['msg']}"
        for error in exc.errors()
    ]
    return ProviderError("\n".join(lines))


@dataclass(frozen=True)
class BuildContext:
    """What a provider may use to build itself."""

    settings: Settings
    #: per provider name, values that replace configured ones (the sandbox's URLs in the demo/tests)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def config(self, name: str) -> dict[str, Any]:
        """The provider's section under `providers:` with the overrides applied."""
        found = dict(self.settings.providers.get(name, {}))
        found.update(self.overrides.get(name, {}))
        return found


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    channels: frozenset[str]  # of base.CHANNELS
    two_way: bool
    build: Callable[[BuildContext], Provider]
    #: a two-way provider's webhooks: returns a FastAPI `APIRouter` (imported only when configured)
    routes: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        unknown = self.channels - CHANNELS
        if unknown or not self.channels:
            raise ProviderError(f"provider {self.name!r}: channels must be among {sorted(CHANNELS)}")


_SPECS: dict[str, ProviderSpec] = {}
_ALIASES: dict[str, str] = {}  # module path -> registered name


def register(spec: ProviderSpec) -> ProviderSpec:
    existing = _SPECS.get(spec.name)
    if existing is not None and existing.build is not spec.build:
        raise ProviderError(f"two providers are registered as {spec.name!r}")
    _SPECS[spec.name] = spec
    return spec


def spec(name: str) -> ProviderSpec:
    """The provider called `name` (a built-in package name, or a module path that registers one)."""
    if name in _SPECS:
        return _SPECS[name]
    if name in _ALIASES:
        return _SPECS[_ALIASES[name]]
    module = name if "." in name else f"notifier.channels.{name}"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise ProviderError(f"unknown provider {name!r} (no module {module})") from None
        raise
    if name in _SPECS:
        return _SPECS[name]
    mine = [s for s in _SPECS.values() if s.build.__module__.startswith(module)]
    if len(mine) == 1:
        _ALIASES[name] = mine[0].name
        return mine[0]
    raise ProviderError(f"module {module} registers no provider called {name!r}")


def build(name: str, ctx: BuildContext) -> Provider:
    found = spec(name)
    provider = found.build(ctx)
    if not set(provider.channels) <= set(found.channels):
        raise ProviderError(f"provider {name!r} serves more channels than it declared")
    return provider


def configured(settings: Settings) -> list[str]:
    """The provider names the `delivery:` settings use, each once, in order."""
    delivery = settings.delivery
    names = [*delivery.sms, *delivery.voice, *delivery.email, *delivery.chat]
    return list(dict.fromkeys(names))


def webhook_routers(settings: Settings) -> list[Any]:
    """The webhook routers of the configured providers that have webhooks of their own."""
    routers = []
    for name in configured(settings):
        found = spec(name)
        if found.routes is not None:
            routers.append(found.routes())
    return routers
