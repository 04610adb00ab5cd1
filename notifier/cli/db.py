"""`notifier db upgrade` and `notifier db status`: bring the schema to the code's revision.

The daemon and the plan commands refuse an unmigrated database instead of creating tables behind
the operator's back, so upgrading is an explicit, visible step (for example `ExecStartPre=` in the
systemd unit). URLs are shown without their password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.cli._common import fail
from notifier.cli._groups import db_app
from notifier.settings import Settings
from notifier.store.db import (
    NotMigrated,
    check_migrated,
    current_revisions,
    head_revisions,
    make_engine,
    redact,
    upgrade_async,
)

T = TypeVar("T")

URL_OPTION = typer.Option(None, "--url", help="Database URL (default: NOTIFIER_DATABASE_URL / settings).")


def database_url(url: str | None) -> str:
    """The URL to use: the `--url` option, else the daemon settings."""
    return url or Settings().database_url


def describe_db_error(url: str, exc: Exception) -> str:
    """One line about a failed connection, without the password and without any SQL parameters."""
    cause = getattr(exc, "orig", None) or exc
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"cannot use the database at {redact(url)}: {reason}"


def on_database(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on the migrated database at `url` (the token and integration key commands work
    on the database directly); an unmigrated or unreachable database is one line for the operator,
    never a traceback."""

    async def run() -> T:
        engine = make_engine(url)
        try:
            await check_migrated(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except NotMigrated as exc:
        fail(str(exc))
    except Exception as exc:  # one line for the operator, never a traceback
        fail(describe_db_error(url, exc))


@db_app.command("upgrade")
def upgrade_command(
    url: str | None = URL_OPTION,
    revision: str = typer.Option("head", help="Target revision."),
) -> None:
    """Apply the database migrations (creates the schema on a new database)."""
    target = database_url(url)
    try:
        asyncio.run(upgrade_async(target, revision))
        current = asyncio.run(_current(target))
    except Exception as exc:  # one line for the operator, never a traceback
        fail(describe_db_error(target, exc))
    typer.echo(f"database at {redact(target)} is at revision {', '.join(current) or '(none)'}")


@db_app.command("status")
def status_command(url: str | None = URL_OPTION) -> None:
    """Show the database revision; exit 1 if it needs `notifier db upgrade`."""
    target = database_url(url)
    try:
        problem = asyncio.run(_status(target))
    except Exception as exc:  # one line for the operator, never a traceback
        fail(describe_db_error(target, exc))
    if problem:
        fail(problem)
    typer.echo(f"database at {redact(target)} is up to date (revision {', '.join(head_revisions())})")


async def _current(url: str) -> tuple[str, ...]:
    engine = make_engine(url)
    try:
        return await current_revisions(engine)
    finally:
        await engine.dispose()


async def _status(url: str) -> str | None:
    engine = make_engine(url)
    try:
        await check_migrated(engine)
    except NotMigrated as exc:
        return str(exc)
    finally:
        await engine.dispose()
    return None
