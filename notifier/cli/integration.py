"""`notifier integration create|list|revoke`: PagerDuty Events API v2 routing keys.

A key is bound to a route (its call tree, policy and correlation settings) or to a call tree (its
defaults). It is printed once, alone on stdout (`KEY=$(notifier integration create ...)`); only its
SHA-256 is stored. Like `notifier token`, these commands work on the database directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.table import Table

from notifier.cli._common import err_console, fail, out_console
from notifier.cli.db import URL_OPTION, database_url, describe_db_error
from notifier.store.db import NotMigrated, check_migrated, make_engine
from notifier.store.integration_keys import IntegrationKey, IntegrationKeys

T = TypeVar("T")

integration_app = typer.Typer(
    help="PagerDuty Events API v2 routing keys, each bound to a route or a call tree.", no_args_is_help=True
)


def _with_keys(url: str, work: Callable[[IntegrationKeys], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(url)
        try:
            await check_migrated(engine)
            return await work(IntegrationKeys(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except NotMigrated as exc:
        fail(str(exc))
    except Exception as exc:  # one line for the operator, never a traceback
        fail(describe_db_error(url, exc))


@integration_app.command("create")
def create_command(
    name: str = typer.Option(..., "--name", help="The sender, e.g. alertmanager-prod."),
    route: str | None = typer.Option(None, "--route", help="A route id of calltrees/, e.g. tier1-crisis."),
    calltree: str | None = typer.Option(None, "--calltree", help="A call tree id, e.g. taxud-crisis."),
    url: str | None = URL_OPTION,
) -> None:
    """Create a routing key bound to a route or a call tree and print it once."""
    if not name.strip() or len(name) > 128:
        fail("--name: give a name of 1 to 128 characters")
    if (route is None) == (calltree is None):
        fail("give exactly one of --route or --calltree")
    record, key = _with_keys(
        database_url(url), lambda keys: keys.create(name.strip(), route=route, calltree=calltree)
    )
    bound = f"route {record.route}" if record.route else f"call tree {record.calltree}"
    err_console.print(
        f"integration key {record.id} ({record.name}, {bound}) created; it is shown only this once:",
        markup=False,
    )
    typer.echo(key)


@integration_app.command("list")
def list_command(url: str | None = URL_OPTION) -> None:
    """List integration keys (never the keys themselves)."""
    records: list[IntegrationKey] = _with_keys(database_url(url), lambda keys: keys.list())
    table = Table("id", "name", "route", "call tree", "created", "revoked")
    for r in records:
        revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}Z" if r.revoked_at else ""
        table.add_row(
            r.id, r.name, r.route or "", r.calltree or "", f"{r.created_at:%Y-%m-%d %H:%M}Z", revoked
        )
    out_console.print(table)


@integration_app.command("revoke")
def revoke_command(
    key_id: str = typer.Argument(..., help="The id shown by `notifier integration list`."),
    url: str | None = URL_OPTION,
) -> None:
    """Revoke a key: events with it are refused (400) from now on."""
    record = _with_keys(database_url(url), lambda keys: keys.revoke(key_id))
    if record is None:
        fail(f"integration key {key_id}: no such key; see `notifier integration list`")
    typer.echo(f"integration key {record.id} ({record.name}) revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(integration_app, name="integration")
