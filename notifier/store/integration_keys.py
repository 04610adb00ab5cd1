"""Integration keys: the `routing_key` a PagerDuty Events API v2 sender uses, bound to a route or a
call tree. Only the SHA-256 of a key is stored; the key is shown once, when created (32 hex
characters, the length PagerDuty's own keys have, so senders that check the length accept it)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.clock import as_utc
from notifier.store.engine_tables import integration_keys


@dataclass(frozen=True)
class IntegrationKey:
    id: str
    name: str
    route: str | None
    calltree: str | None
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _record(row: Any) -> IntegrationKey:
    created = as_utc(row.created_at)
    assert created is not None
    return IntegrationKey(row.id, row.name, row.route, row.calltree, created, as_utc(row.revoked_at))


class IntegrationKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self, name: str, *, route: str | None = None, calltree: str | None = None
    ) -> tuple[IntegrationKey, str]:
        """A new key bound to `route` or `calltree` (exactly one); returns its record and the key."""
        if (route is None) == (calltree is None):
            raise ValueError("bind the key to exactly one of a route or a call tree")
        key = secrets.token_hex(16)
        record = IntegrationKey(secrets.token_hex(4), name, route, calltree, datetime.now(UTC), None)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(integration_keys).values(
                    id=record.id,
                    name=name,
                    key_hash=key_hash(key),
                    route=route,
                    calltree=calltree,
                    created_at=record.created_at,
                )
            )
        return record, key

    async def find(self, key: str) -> IntegrationKey | None:
        """The active key record for `key`, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(integration_keys).where(integration_keys.c.key_hash == key_hash(key))
                )
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return _record(row)

    async def list(self) -> list[IntegrationKey]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(integration_keys).order_by(integration_keys.c.created_at))
            return [_record(row) for row in rows]

    async def revoke(self, key_id: str) -> IntegrationKey | None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(integration_keys)
                .where(integration_keys.c.id == key_id, integration_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = (
                await conn.execute(select(integration_keys).where(integration_keys.c.id == key_id))
            ).first()
        return _record(row) if row is not None else None
