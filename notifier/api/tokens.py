"""API bearer tokens: creation, listing, revocation and verification.

A token is 32 random bytes (URL-safe base64, prefixed `ntk_` so a leaked one is recognisable in a
scan). Only its SHA-256 is stored: a database copy grants nothing. A random 256-bit secret needs
no slow password hash; the lookup is by hash and the final comparison is constant-time.

The daemon remembers a verified token for `VERIFIED_TTL_S` (keyed by its hash, never the token):
an integration posting hundreds of alerts a second costs one lookup a second, not one per alert. A
token revoked through the same store (console, API) stops working at once; one revoked from
another process (`notifier token revoke`) within `VERIFIED_TTL_S`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.store.api_tables import api_tokens

TOKEN_PREFIX = "ntk_"
#: how long the daemon's store trusts a token it verified (see the module docstring)
VERIFIED_TTL_S = 1.0
#: verified tokens remembered at most (past it, the memory starts again)
_VERIFIED_MAX = 1024


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    VIEWER = "viewer"
    INTEGRATION = "integration"


class TokenRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written as UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: object) -> TokenRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    created = _utc(mapping["created_at"])
    assert created is not None
    return TokenRecord(
        id=mapping["id"],
        name=mapping["name"],
        role=Role(mapping["role"]),
        created_at=created,
        revoked_at=_utc(mapping["revoked_at"]),
    )


class TokenStore:
    """Tokens in the `api_tokens` table of the daemon's database."""

    def __init__(
        self, engine: AsyncEngine, ttl_s: float = 0.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        #: 0: every `verify` asks the database (the CLI, tests); the daemon uses `VERIFIED_TTL_S`
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._verified: dict[str, tuple[float, TokenRecord]] = {}  # token hash -> (until, record)

    async def create(self, name: str, role: Role, now: datetime | None = None) -> tuple[TokenRecord, str]:
        """Store a new token; return its record and the token itself (shown once, never stored)."""
        token = new_token()
        created = now or datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(api_tokens).values(
                    name=name, role=role.value, hash=hash_token(token), created_at=created
                )
            )
            token_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert token_id is not None
        return TokenRecord(id=token_id, name=name, role=role, created_at=created), token

    async def list(self) -> list[TokenRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(api_tokens).order_by(api_tokens.c.id))
            return [_record(row) for row in rows]

    async def revoke(self, token_id: int, now: datetime | None = None) -> TokenRecord | None:
        """Revoke a token (idempotent); None when no token has this id."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now or datetime.now(UTC))
            )
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        self._verified.clear()
        return _record(row) if row is not None else None

    async def get(self, token_id: int) -> TokenRecord | None:
        """The record of token `token_id` (revoked or not), or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        return _record(row) if row is not None else None

    async def verify(self, token: str) -> TokenRecord | None:
        """The active token record for `token`, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        if self.ttl_s > 0:
            known = self._verified.get(digest)
            if known is not None and known[0] > self._monotonic():
                return known[1]
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.hash == digest))).first()
        if row is None or not hmac.compare_digest(row._mapping["hash"], digest):
            return None
        record = _record(row)
        if not record.active:
            self._verified.pop(digest, None)
            return None
        if self.ttl_s > 0:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[digest] = (self._monotonic() + self.ttl_s, record)
        return record
