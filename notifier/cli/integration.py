"""`notifier integration create|list|revoke`: PagerDuty Events API v2 routing keys.

A key is bound to a route (its call tree, policy and correlation settings) or to a call tree (its
defaults). It is printed once, alone on stdout (`KEY=$(notifier integration create ...)`); only its
SHA-256 is stored. Like `notifier token`, these commands work on the database directly.
"""

from __future__ import annotations

import typer
from rich.table import Table

from notifier.cli._common import err_console, fail, out_console
from notifier.cli.db import URL_OPTION, database_url, on_database
from notifier.plan.loader import load
from notifier.settings import Settings
from notifier.store.integration_keys import IntegrationKey, IntegrationKeys

integration_app = typer.Typer(
    help="PagerDuty Events API v2 routing keys, each bound to a route or a call tree.", no_args_is_help=True
)


def _check_binding(route: str | None, calltree: str | None) -> None:
    """A key bound to a route or tree the configuration does not have would be answered 202 while
    nobody is paged: refused here, by name. (One removed later makes its events `unrouted`: stored,
    logged and counted.)"""
    settings = Settings()
    loaded = load([*settings.plan_paths, *settings.calltree_paths])
    if loaded.trees is None:
        err_console.print("note: the call trees could not be read; the binding was not checked", markup=False)
        return
    if route is not None and route not in (known := [r.id for r in loaded.trees.routes]):
        fail(f"--route: no route {route!r} in the call trees (known: {', '.join(known) or 'none'})")
    if calltree is not None and calltree not in (known := [t.id for t in loaded.trees.calltrees]):
        fail(f"--calltree: no call tree {calltree!r} (known: {', '.join(known) or 'none'})")


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
    _check_binding(route, calltree)
    record, key = on_database(
        database_url(url), lambda db: IntegrationKeys(db).create(name.strip(), route=route, calltree=calltree)
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
    records: list[IntegrationKey] = on_database(database_url(url), lambda db: IntegrationKeys(db).list())
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
    record = on_database(database_url(url), lambda db: IntegrationKeys(db).revoke(key_id))
    if record is None:
        fail(f"integration key {key_id}: no such key; see `notifier integration list`")
    typer.echo(f"integration key {record.id} ({record.name}) revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(integration_app, name="integration")
