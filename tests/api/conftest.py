"""Fixtures for the HTTP tests: a migrated SQLite token store, the in-memory engine, an ASGI client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from notifier.api.app import create_app
from notifier.api.tokens import Role, TokenStore
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import make_engine, upgrade_async

from .memory_engine import MemoryEngine
from .plan_fixture import PLAN, TREES

NOW = datetime(2026, 3, 2, 7, 16, tzinfo=UTC)
PUBLIC_BASE = "https://notify.example.org"
AUTH_TOKEN = "primary-auth-token-0123456789abcdef"
ALTERNATE_TOKEN = "rotated-auth-token-fedcba9876543210"
SECRET_KEY = "test-secret-key-for-ack-links"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@dataclass(frozen=True)
class TokenDb:
    url: str
    tokens: dict[Role, str]
    revoked: str


@pytest.fixture(scope="module")
def token_db(tmp_path_factory: pytest.TempPathFactory) -> TokenDb:
    """One migrated SQLite database per test module with a token per role and one revoked token."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('tokens') / 'notifier.db'}"

    async def build() -> TokenDb:
        await upgrade_async(url)
        engine = make_engine(url)
        try:
            store = TokenStore(engine)
            tokens = {role: (await store.create(f"{role.value}-client", role))[1] for role in Role}
            record, revoked = await store.create("old-grafana", Role.INTEGRATION)
            await store.revoke(record.id)
        finally:
            await engine.dispose()
        return TokenDb(url, tokens, revoked)

    return asyncio.run(build())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        public_base_url=PUBLIC_BASE,
        secret_key=SECRET_KEY,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        twilio=TwilioSettings(auth_token=AUTH_TOKEN, alternate_auth_token=ALTERNATE_TOKEN),
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def engine() -> MemoryEngine:
    return MemoryEngine(PLAN, TREES, NOW)


@pytest.fixture
async def client(
    token_db: TokenDb, engine: MemoryEngine, settings: Settings, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    database = make_engine(token_db.url)
    app = create_app(engine, settings, TokenStore(database), clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await database.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
