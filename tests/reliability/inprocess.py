"""A whole daemon in the test's event loop, wired to a sandbox the test scripts (faults, personas).

Unlike `tests/engine/conftest.py` (which lets the runtime start its own sandbox), the sandbox here
is built by the test and passed by URL and port, exactly as a real provider is configured, so a
test can also point SMTP at a closed port or give the Twilio client a short timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from notifier.api.engine_api import ActivationView, StartRequest
from notifier.clock import ScaledClock
from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime
from notifier.sandbox import Faults, Persona, Sandbox, preset
from notifier.settings import SmtpSettings, SpoolSettings, TwilioSettings
from notifier.store.db import upgrade_async
from notifier.store.engine_tables import activations, activity_log, outbox
from tests.engine.conftest import free_port, system_settings
from tests.reliability.harness import ACCOUNT_SID, AUTH_TOKEN, numbers_for, write_tree

SMS_THEN_VOICE = "[{kind: sms, wait: 5m}, {kind: voice, wait: 5m}]"


@dataclass
class System:
    runtime: Runtime
    sandbox: Sandbox
    numbers: list[str] = field(default_factory=list)  # one person per number, in tree order

    @property
    def base(self) -> str:
        return self.runtime.settings.public_base_url

    async def activate(self) -> str:
        assert self.runtime.service is not None
        view = await self.runtime.service.start_activation(
            StartRequest(
                tree_id="bulk",
                kind=ActivationKind.DRILL,
                fields={"nature": "Provider fault drill"},
                started_by="reliability",
            )
        )
        return view.id

    async def view(self, activation_id: str) -> ActivationView:
        assert self.runtime.service is not None
        view = await self.runtime.service.get_activation(activation_id)
        assert view is not None, activation_id
        return view

    async def finished(self, activation_id: str, timeout: float = 30) -> ActivationView:
        """The activation's view once it is no longer open. Polls its status column: building the
        whole view of a 300-person activation 20 times a second would take the engine's CPU (and
        stall its loop) in the very tests that measure how fast it answers."""
        assert self.runtime.db is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        query = select(activations.c.status).where(activations.c.id == activation_id)
        while loop.time() < end:
            async with self.runtime.db.connect() as conn:
                status = (await conn.execute(query)).scalar_one_or_none()
            if status is not None and status != "open":
                return await self.view(activation_id)
            await asyncio.sleep(0.05)
        raise AssertionError(f"activation {activation_id} still open after {timeout} s")

    async def rows(self, table: Any, activation_id: str) -> list[Any]:
        assert self.runtime.db is not None
        async with self.runtime.db.connect() as conn:
            query = select(table).where(table.c.activation_id == activation_id).order_by(table.c.id)
            return list((await conn.execute(query)).all())

    async def outbox(self, activation_id: str) -> list[Any]:
        return await self.rows(outbox, activation_id)

    async def activity(self, activation_id: str) -> list[Any]:
        return await self.rows(activity_log, activation_id)


@asynccontextmanager
async def faulty_system(
    tmp_path: Path,
    numbers: list[str],
    methods: str,
    *,
    faults: Faults | None = None,
    personas: list[Persona] | None = None,
    smtp_up: bool = True,
    twilio_timeout: float = 10.0,
    scale: float = 120.0,
    emails: bool = False,
    auth_token: str = AUTH_TOKEN,
    alternate_auth_token: str | None = None,
    spool: SpoolSettings | None = None,
    policy: str = "",
    tree: str = "",
    database_url: str | None = None,
    senders: int = 5,
    rate_per_sender: float = 100,
    max_in_flight: int = 10,
) -> AsyncIterator[System]:
    """A migrated daemon (SQLite unless `database_url`) whose tree `bulk` names one person per
    number (see `write_tree`), sending from `senders` numbers at `rate_per_sender` each."""
    config = tmp_path / "cfg"
    config.mkdir(exist_ok=True)
    write_tree(config, numbers, methods, emails=emails, policy=policy, tree=tree)
    clock = ScaledClock(scale)
    box = Sandbox(
        ACCOUNT_SID,
        auth_token,
        clock=clock,
        smtp_port=0 if smtp_up else None,
        faults=faults or Faults(seed=8),
        personas=personas or [],
    )
    await box.start()
    port = free_port()
    settings = system_settings(
        tmp_path,
        port,
        scale,
        sandbox=False,
        plan_paths=[config / "plan.yaml"],
        calltree_paths=[config / "bulk.yaml"],
        max_in_flight=max_in_flight,
        twilio=TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=SecretStr(auth_token),
            alternate_auth_token=SecretStr(alternate_auth_token) if alternate_auth_token else None,
            base_url=box.url,
            from_numbers=[f"+1500555{i:04d}" for i in range(senders)],
            rate_per_sender=rate_per_sender,
            timeout=twilio_timeout,
        ),
        **({"database_url": database_url} if database_url else {}),
        smtp=SmtpSettings(port=box.smtp_port if smtp_up else free_port()),
        **({"spool": spool} if spool is not None else {}),
    )
    box.inbound_sms_url = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, clock)
    await runtime.start()
    try:
        yield System(runtime, box, list(numbers))
    finally:
        await runtime.stop(timeout=5)
        await box.stop()


def confirming_broadcast(
    tmp_path: Path, database_url: str, faults: Faults, *, people: int = 200, **options: Any
) -> AbstractAsyncContextManager[System]:
    """The provider-fault broadcast of issue 12: `people` persons, SMS then voice (5 engine minutes
    each), each confirming 2 s after their SMS, 20 sends in flight, a clock 5x the wall, on
    `database_url`; `options` are further `faulty_system` arguments (e.g. `rate_per_sender`)."""
    numbers = numbers_for(people)
    return faulty_system(
        tmp_path,
        numbers,
        SMS_THEN_VOICE,
        faults=faults,
        personas=[preset("confirms", n, reply_after=2.0) for n in numbers],
        max_in_flight=20,
        scale=5,
        database_url=database_url,
        **options,
    )
