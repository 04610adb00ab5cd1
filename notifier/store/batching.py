"""Statement sizes the stores accept."""

from __future__ import annotations

from typing import Any

CHUNK = 1000


def chunks(items: list[Any]) -> list[list[Any]]:
    """`IN (...)` lists in pieces: PostgreSQL (asyncpg) takes at most 32,767 parameters per
    statement, and a 50,000-person broadcast's first step deletes and writes 50,000 deadlines."""
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
