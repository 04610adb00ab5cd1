"""`notifier token create|list|revoke`: bearer tokens for the HTTP API.

The token is printed once, alone on stdout (so `TOKEN=$(notifier token create ...)` works), and
only its hash is stored; a lost token is revoked and replaced, never recovered.
"""

from __future__ import annotations

import typer
from rich.table import Table

from notifier.api.tokens import Role, TokenRecord, TokenStore
from notifier.cli._common import err_console, fail, out_console
from notifier.cli._groups import token_app
from notifier.cli.db import URL_OPTION, database_url, on_database


@token_app.command("create")
def create_command(
    role: Role = typer.Option(..., "--role", help="admin, coordinator, viewer or integration."),
    name: str = typer.Option(..., "--name", help="Who or what uses the token, e.g. alertmanager-prod."),
    url: str | None = URL_OPTION,
) -> None:
    """Create a token and print it once; only its hash is kept."""
    if not name.strip() or len(name) > 200:
        fail("--name: give a name of 1 to 200 characters")
    record, token = on_database(database_url(url), lambda db: TokenStore(db).create(name.strip(), role))
    err_console.print(
        f"token {record.id} ({record.name}, {record.role.value}) created; it is shown only this once:",
        markup=False,
    )
    typer.echo(token)


@token_app.command("list")
def list_command(url: str | None = URL_OPTION) -> None:
    """List tokens (never the tokens themselves): id, name, role, created, revoked."""
    records: list[TokenRecord] = on_database(database_url(url), lambda db: TokenStore(db).list())
    table = Table("id", "name", "role", "created", "revoked")
    for r in records:
        revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}Z" if r.revoked_at else ""
        table.add_row(str(r.id), r.name, r.role.value, f"{r.created_at:%Y-%m-%d %H:%M}Z", revoked)
    out_console.print(table)


@token_app.command("revoke")
def revoke_command(
    token_id: int = typer.Argument(..., help="The id shown by `notifier token list`."),
    url: str | None = URL_OPTION,
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    record = on_database(database_url(url), lambda db: TokenStore(db).revoke(token_id))
    if record is None:
        fail(f"token id {token_id}: no such token; see `notifier token list`")
    typer.echo(f"token {record.id} ({record.name}) revoked")
