"""Token store (SQLite and PostgreSQL) and the `notifier token` commands."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from notifier.api.tokens import VERIFIED_TTL_S, Role, TokenStore
from notifier.cli import app
from notifier.store.api_tables import api_tokens
from notifier.store.db import make_engine, upgrade_async
from notifier.store.integration_keys import key_hash


async def test_tokens_are_stored_hashed_verified_and_revoked(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        store = TokenStore(engine)
        record, token = await store.create("alertmanager-prod", Role.INTEGRATION)
        other, _ = await store.create("duty-desk", Role.VIEWER)
        async with engine.connect() as conn:
            stored = (
                await conn.execute(select(api_tokens.c.hash).where(api_tokens.c.id == record.id))
            ).scalar_one()
        assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
        verified = await store.verify(token)
        assert verified is not None and (verified.id, verified.role) == (record.id, Role.INTEGRATION)
        assert await store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert await store.verify("") is None
        revoked = await store.revoke(record.id)
        assert revoked is not None and revoked.revoked_at is not None
        assert await store.verify(token) is None
        assert await store.revoke(9999) is None
        assert [(r.name, r.active) for r in await store.list()] == [
            ("alertmanager-prod", False),
            ("duty-desk", True),
        ]
        assert other.id != record.id
    finally:
        await engine.dispose()


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    runner = CliRunner()
    unmigrated = runner.invoke(app, ["token", "create", "--role", "admin", "--name", "ops", "--url", url])
    assert unmigrated.exit_code == 1 and "notifier db upgrade" in unmigrated.output
    asyncio.run(upgrade_async(url))

    created = runner.invoke(
        app, ["token", "create", "--role", "coordinator", "--name", "ops-bridge", "--url", url]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("ntk_") and len(token.splitlines()) == 1

    listed = runner.invoke(app, ["token", "list", "--url", url])
    assert listed.exit_code == 0 and "ops-bridge" in listed.stdout and "coordinator" in listed.stdout
    assert token not in listed.stdout and hashlib.sha256(token.encode()).hexdigest() not in listed.stdout

    assert runner.invoke(app, ["token", "revoke", "1", "--url", url]).exit_code == 0
    missing = runner.invoke(app, ["token", "revoke", "42", "--url", url])
    assert missing.exit_code == 1 and "token id 42" in missing.output
    bad_role = runner.invoke(app, ["token", "create", "--role", "root", "--name", "x", "--url", url])
    assert bad_role.exit_code == 2

    async def verify() -> object:
        engine = make_engine(url)
        try:
            return await TokenStore(engine).verify(token)
        finally:
            await engine.dispose()

    assert asyncio.run(verify()) is None


def test_cli_integration_keys_create_list_revoke(tmp_path: Path) -> None:
    """`notifier integration` shares the token commands' database handling (`cli/db.on_database`):
    an unmigrated or unreachable database is one line, never a traceback."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    runner = CliRunner()
    create = ["integration", "create", "--name", "am-prod", "--route", "tier1-crisis", "--url", url]
    unmigrated = runner.invoke(app, create)
    assert unmigrated.exit_code == 1 and "notifier db upgrade" in unmigrated.output
    assert "Traceback" not in unmigrated.output
    closed = "postgresql+asyncpg://notifier:s3cret-pw@127.0.0.1:1/notifier"  # nothing listens on port 1
    unreachable = runner.invoke(app, ["integration", "list", "--url", closed])
    assert unreachable.exit_code == 1 and unreachable.output.startswith("error: cannot use the database at")
    assert "s3cret-pw" not in unreachable.output and "Traceback" not in unreachable.output
    asyncio.run(upgrade_async(url))

    created = runner.invoke(app, create)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert len(key) == 32 and len(key.splitlines()) == 1
    listed = runner.invoke(app, ["integration", "list", "--url", url])
    key_id = created.stderr.split()[2]  # "integration key ID (am-prod, route tier1-crisis) created; ..."
    assert created.stderr.startswith(f"integration key {key_id} (am-prod, route tier1-crisis) created")
    assert listed.exit_code == 0 and key_id in listed.stdout and "am-prod" in listed.stdout
    assert key not in listed.stdout and key_hash(key) not in listed.stdout
    revoked = runner.invoke(app, ["integration", "revoke", key_id, "--url", url])
    assert revoked.exit_code == 0 and f"integration key {key_id} (am-prod) revoked" in revoked.stdout
    for option, value, said in (
        ("--route", "tier1-crisi", "--route: no route 'tier1-crisi' in the call trees (known: "),
        ("--calltree", "taxud", "--calltree: no call tree 'taxud' (known: "),
    ):
        unknown = runner.invoke(app, ["integration", "create", "--name", "x", option, value, "--url", url])
        assert unknown.exit_code == 1 and unknown.output.startswith(f"error: {said}"), unknown.output
    missing = runner.invoke(app, ["integration", "revoke", "nope", "--url", url])
    assert missing.exit_code == 1 and "integration key nope: no such key" in missing.output


async def test_verified_tokens_are_remembered_briefly_and_revocation_ends_them(migrated_db_url: str) -> None:
    """The daemon's store remembers a verified token for `ttl_s`: a revoke through that store ends it
    at once; one by another process (the CLI: another store on the same database) within `ttl_s`."""
    engine = make_engine(migrated_db_url)
    now = [100.0]
    try:
        daemon = TokenStore(engine, ttl_s=VERIFIED_TTL_S, monotonic=lambda: now[0])
        cli = TokenStore(engine)
        record, token = await cli.create("alertmanager-prod", Role.INTEGRATION)
        other, other_token = await cli.create("grafana", Role.INTEGRATION)
        assert await id_of(daemon, token) == record.id
        await cli.revoke(record.id)
        assert await cli.verify(token) is None
        assert await id_of(daemon, token) == record.id  # remembered, within the lifetime
        now[0] += VERIFIED_TTL_S * 0.9
        assert await id_of(daemon, token) == record.id
        now[0] += VERIFIED_TTL_S * 0.2
        assert await daemon.verify(token) is None  # asked the database again: revoked
        assert await daemon.verify(token) is None
        assert await id_of(daemon, other_token) == other.id
        await daemon.revoke(other.id)  # through the daemon's own store: at once
        assert await daemon.verify(other_token) is None
    finally:
        await engine.dispose()


async def id_of(store: TokenStore, token: str) -> int | None:
    record = await store.verify(token)
    return None if record is None else record.id
