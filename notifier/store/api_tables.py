"""Tables of the HTTP API: bearer tokens.

Only the SHA-256 of a token is stored: the token itself is shown once, at creation, so a copy of
the database (a backup, a support dump) does not grant access to the API. Revocation keeps the row
(`revoked_at`) so `notifier token list` still shows who had access and until when.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table

from notifier.store.tables import metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
