"""Replies as received (`responses`): every SMS, keypress and email answer, stored with its effect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.store.engine_tables import responses


async def insert_responses(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(responses), list(rows))
