"""Builds a running system from `Settings`: store, plan, providers (or the sandbox), engine, HTTP app.

`notifier serve`, `notifier demo` and the integration tests all start through `Runtime`, so what is
tested is what runs. Startup refuses an unmigrated database and an invalid plan with a message that
says what to do; nothing half-starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.api.acktokens import make_ack_token
from notifier.api.app import create_app
from notifier.api.masking import plan_region
from notifier.api.spool_applier import SpoolApplier
from notifier.api.tokens import VERIFIED_TTL_S, TokenStore
from notifier.api.twilio_webhooks import apply_spooled
from notifier.api.webhook_spool import WebhookSpool
from notifier.api.webhook_worker import spool_directory
from notifier.api.worker_pool import WorkerPool
from notifier.channels import registry
from notifier.channels.base import CHAT, Provider
from notifier.channels.failover import ProviderChain, ProviderHealth
from notifier.channels.registry import BuildContext
from notifier.clock import Clock, RealClock, ScaledClock
from notifier.console import install_console
from notifier.console.backend import ConsoleBackend
from notifier.console.session import SessionSigner
from notifier.domain.plan import ChannelKind, keep_newer_verifications
from notifier.engine.core import Config, Engine
from notifier.engine.inform import Informer
from notifier.engine.render import make_renderer
from notifier.engine.service import EngineService
from notifier.intake.mqtt import start_mqtt
from notifier.metrics import Metrics
from notifier.plan.loader import load
from notifier.settings import KEEP_ALIVE_SECONDS, Settings
from notifier.store.db import check_migrated, make_engine, session_factory
from notifier.store.plans import PlanStore

log = structlog.get_logger("notifier.runtime")

ACK_LINK_LIFETIME = timedelta(days=2)


class StartupError(RuntimeError):
    """The daemon cannot start; the message says why and what to do."""


def freeze_heap() -> None:
    """Move what start-up (or a reload) built out of the cyclic garbage collector's reach: the plan,
    the call trees and the compiled snapshots are millions of objects for 50,000 people and live as
    long as the configuration, yet every full collection walked them all, a pause inside whichever
    step it fell in (the first step of a 10,000-person start: 0.6 s of 0.61)."""
    gc.collect()
    gc.freeze()


def load_config(settings: Settings) -> Config:
    loaded = load([*settings.plan_paths, *settings.calltree_paths], settings.limits.yaml_file_bytes)
    if not loaded.ok or loaded.plan is None or loaded.trees is None:
        lines = [p.format() for p in loaded.problems if p.severity == "error"]
        raise StartupError(
            "the plan or call trees are invalid:\n  " + "\n  ".join(lines or ["nothing loaded"])
        )
    return Config(plan=loaded.plan, trees=loaded.trees)


def sandbox_gateway_settings(settings: Settings, sandbox_url: str) -> Settings:
    """`settings` with `providers.kannel` pointed at the sandbox's gateway stand-in."""
    from notifier.sandbox import gateway

    kannel = {
        "sendsms_url": f"{sandbox_url}/cgi-bin/sendsms",
        "username": gateway.USERNAME,
        "password": gateway.PASSWORD,
        "secret": gateway.SECRET,
        "sender": "+3222999000",
    }
    return settings.model_copy(update={"providers": {**settings.providers, "kannel": kannel}})


def make_clock(settings: Settings) -> Clock:
    return RealClock() if settings.clock_scale == 1.0 else ScaledClock(settings.clock_scale)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: AsyncEngine | None = None
    engine: Engine | None = None
    service: EngineService | None = None
    sandbox: Any = None
    server: uvicorn.Server | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    plan_store: PlanStore | None = None
    metrics: Metrics | None = None
    mqtt: Any = None  # notifier.intake.mqtt.MqttIntake when settings.mqtt.enabled
    calendar: Any = None  # notifier.scheduling.service.CalendarJobs: drills, reminders, reports
    health: ProviderHealth | None = None  # which providers are in service (failover)
    built_providers: dict[str, Provider] = field(default_factory=dict)
    health_task: asyncio.Task[None] | None = None
    #: Twilio webhooks the store could not take (database down, bursts), applied in order later
    spool: WebhookSpool | None = None
    spool_task: asyncio.Task[None] | None = None
    #: webhooks verified and spooled by worker processes (`webhooks.workers`), applied in batches
    applier: SpoolApplier | None = None
    applier_task: asyncio.Task[None] | None = None
    workers: WorkerPool | None = None

    async def start(self, *, http: bool = True) -> Runtime:
        settings = self.settings
        self.db = make_engine(settings.database_url)
        try:
            await check_migrated(self.db)
        except Exception as exc:
            await self.db.dispose()
            raise StartupError(str(exc)) from exc
        config = load_config(settings)
        self.plan_store = PlanStore(session_factory(self.db), self.clock)
        await self._store_plan(config, "loaded at start")
        overrides: dict[str, dict[str, Any]] = {}
        if settings.sandbox:
            from notifier.sandbox import Sandbox

            self.sandbox = Sandbox(
                settings.twilio.account_sid,
                settings.twilio.auth_token.get_secret_value(),
                inbound_sms_url=f"{settings.twilio_webhook_base()}/webhooks/twilio/sms",
                clock=self.clock,
                gateway_mo_url=f"{settings.public_base_url.rstrip('/')}/webhooks/kannel/sms",
            )
            await self.sandbox.start()
            overrides["twilio"] = {"base_url": self.sandbox.url}
            overrides["smtp"] = {"host": "127.0.0.1", "port": self.sandbox.smtp_port}
            if "kannel" in registry.configured(settings) and "sendsms_url" not in settings.providers.get(
                "kannel", {}
            ):
                # no gateway configured: the sandbox's stand-in (the demo's "Twilio is down")
                settings = self.settings = sandbox_gateway_settings(settings, self.sandbox.url)
        providers = self._providers(overrides)
        secret = settings.secret_key.get_secret_value()
        base = settings.public_base_url.rstrip("/")

        def ack_url(activation_id: str, attempt_id: str) -> str:
            token = make_ack_token(
                secret, f"{activation_id}.{attempt_id}", self.clock.now() + ACK_LINK_LIFETIME
            )
            return f"{base}/ack/{token}"

        senders = tuple(settings.twilio.from_numbers)
        self.engine = Engine(
            self.db,
            config,
            providers,
            self.clock,
            make_renderer(ack_url),
            senders={
                ChannelKind.SMS: (senders, settings.twilio.rate_per_sender),
                ChannelKind.VOICE: (senders, settings.twilio.rate_per_sender),
            },
            max_in_flight=settings.max_in_flight,
            bundle_window=timedelta(seconds=settings.sms_bundle_seconds),
        )
        if CHAT in providers:  # informed channels: posts written with the steps (engine/inform.py)
            engine = self.engine
            self.engine.stepper.informer = Informer(lambda: engine.config.trees)
        self.service = EngineService(self.engine, settings.public_base_url)
        self.metrics = Metrics()
        self.metrics.attach(self.engine)
        self.metrics.attach_health(self.health, self.built_providers)
        await self.engine.start()
        self.health_task = asyncio.create_task(self._watch_providers(), name="provider-health")
        self.service.intake.listeners.append(self.metrics.observe_alert)
        self.mqtt = start_mqtt(self)
        self.metrics.mqtt = self.mqtt
        from notifier.scheduling.service import start_calendar

        self.calendar = start_calendar(self)
        if http:
            numbers = (c.address for p in config.plan.people for c in p.contacts if c.address.startswith("+"))
            region = settings.phone_region or plan_region(numbers)
            tokens = TokenStore(self.db, ttl_s=VERIFIED_TTL_S)
            self.spool = WebhookSpool(
                settings.state_directory() / f"webhooks-{settings.http_port}.spool", settings.spool.max_bytes
            )
            self.metrics.spool = self.spool
            self.engine.stepper.arrivals.add_source(self.spool.oldest_pending)
            service = self.service
            self.spool_task = asyncio.create_task(
                self.spool.run(lambda entry: apply_spooled(service, entry)), name="webhook-spool"
            )
            self.applier = SpoolApplier(spool_directory(settings), service, settings.twilio_webhook_base())
            if settings.webhooks.workers and not self.applier.sockets_fit:
                raise StartupError(
                    f"state_dir {settings.state_directory()} is too long a path for the webhook workers' "
                    "unix sockets (107 bytes with webhooks-<port>/w15-4194304.sock): set a shorter state_dir"
                )
            try:
                self.applier.open()
            except RuntimeError as exc:
                raise StartupError(str(exc)) from exc
            self.metrics.worker_spool = self.applier
            self.engine.stepper.arrivals.add_source(self.applier.oldest_pending)
            self.applier_task = asyncio.create_task(self.applier.run(), name="webhook-workers-spool")
            if settings.webhooks.workers:
                self.workers = WorkerPool(settings)
                await self.workers.start()
            app = create_app(
                self.service, settings, tokens, self.clock, phone_region=region, spool=self.spool
            )
            install_console(app, self._console(tokens))
            self.metrics.install(app)
            config_ = uvicorn.Config(
                app,
                host=settings.http_host,
                port=settings.http_port,
                log_config=None,
                access_log=False,
                lifespan="off",
                # longer than a client keeps an idle connection (aiohttp and the sandbox: 15 s): with
                # uvicorn's 5 s a client could reuse a connection just as we closed it, and that
                # webhook (a reply Twilio does not retry) was lost ("Server disconnected")
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
            self.server = uvicorn.Server(config_)
            self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            self.tasks.append(asyncio.create_task(self.server.serve(), name="http"))
            while not self.server.started:
                if self.tasks[-1].done():
                    await self.tasks[-1]
                    raise StartupError(
                        f"the HTTP server could not listen on {settings.http_host}:{settings.http_port}"
                    )
                await asyncio.sleep(0.01)
        freeze_heap()
        return self

    def _console(self, tokens: TokenStore) -> ConsoleBackend:
        assert self.service is not None and self.engine is not None
        return ConsoleBackend(
            service=self.service,
            engine=self.engine,
            tokens=tokens,
            plans=self.plan_store,
            settings=self.settings,
            signer=SessionSigner(self.settings.secret_key.get_secret_value()),
        )

    def _providers(self, overrides: dict[str, dict[str, Any]]) -> dict[str, Provider]:
        """One failover chain per channel over the configured providers (`delivery:` settings)."""
        settings = self.settings
        delivery = settings.delivery
        self.health = ProviderHealth(
            self.clock, delivery.failure_threshold, delivery.cooldown, listener=self._provider_event
        )
        ctx = BuildContext(settings, overrides)
        built: dict[str, Provider] = {}
        chains: dict[str, Provider] = {}
        try:
            for channel in (*(kind.value for kind in ChannelKind), CHAT):
                names = getattr(delivery, channel)
                for name in names:
                    if name not in built:
                        built[name] = registry.build(name, ctx)
                    if channel not in built[name].channels:
                        raise StartupError(f"delivery.{channel}: provider {name!r} does not send {channel}")
                if names:
                    chains[channel] = ProviderChain(channel, [built[n] for n in names], self.health)
        except registry.ProviderError as exc:
            raise StartupError(str(exc)) from exc
        self.built_providers = built
        return chains

    def _provider_event(self, channel: str, provider: str, event: str) -> None:
        if self.metrics is not None:
            self.metrics.provider_event(channel, provider, event)

    async def _watch_providers(self) -> None:
        """Probe the providers that have a health check, every `delivery.health_interval` of the
        engine's clock, but never more than once a wall second (a fast test clock would hammer)."""
        scale = float(getattr(self.clock, "scale", 1.0))
        pause = max(1.0, self.settings.delivery.health_interval.total_seconds() / scale)
        providers = list(self.built_providers.values())
        while True:
            with contextlib.suppress(Exception):
                assert self.health is not None
                await self.health.check(providers)
            await asyncio.sleep(pause)

    async def _store_plan(self, config: Config, comment: str) -> None:
        """Store the plan read from the files as a version (nothing is written when unchanged),
        keeping verification dates that contacts confirmed since the files were written."""
        assert self.plan_store is not None
        latest = await self.plan_store.latest()
        config.plan = keep_newer_verifications(config.plan, latest[1] if latest else None)
        imported = await self.plan_store.import_plan(config.plan, author="notifier daemon", comment=comment)
        config.plan_version = imported.version or (latest[0] if latest else None)

    async def reload(self) -> bool:
        """Re-read plan and call trees; keep the running configuration if the new one is invalid.

        Running activations keep their frozen snapshots; new activations use the new trees. A changed
        plan is stored as a new plan version with its record of changes.
        """
        assert self.engine is not None and self.plan_store is not None
        try:
            config = load_config(self.settings)
        except StartupError as exc:
            log.error("reload refused; the running configuration stays", problems=str(exc))
            return False
        await self._store_plan(config, "reloaded (SIGHUP)")
        gc.unfreeze()  # the old plan and snapshots may be collected once nothing refers to them
        self.engine.config = config
        self.engine.warm()
        freeze_heap()
        log.info(
            "reloaded plan and call trees",
            trees=len(config.trees.calltrees),
            plan_version=config.plan_version,
        )
        return True

    async def stop(self, timeout: float = 10.0) -> None:
        gc.unfreeze()  # what start-up froze may be collected again (a process that starts another)
        if self.server is not None:
            self.server.should_exit = True
        if self.engine is not None:
            self.engine.hub.close()  # open console event streams end, so the HTTP server can stop
        if self.mqtt is not None:  # first: no new alerts while the engine drains
            await self.mqtt.stop()
        if self.calendar is not None:
            await self.calendar.stop()
        if self.workers is not None:  # they finish their requests; what they spooled is applied
            await self.workers.stop(timeout)
        if self.applier_task is not None:  # then one last batch of what the workers spooled
            self.applier_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.applier_task
        if self.applier is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.applier.apply_batch(), timeout)
            self.applier.close()
        for background in (self.health_task, self.spool_task):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        if self.engine is not None:
            await self.engine.stop(timeout)
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
        if self.sandbox is not None:
            await self.sandbox.stop()
        if self.db is not None:
            await self.db.dispose()
