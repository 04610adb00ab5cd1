"""`notifier alerts` (every alert received and what became of it) and `notifier page-again ID`.

Both talk to the running daemon through its API, like `status`: `alerts` needs a viewer,
coordinator or admin token, `page-again` a coordinator or admin token.
"""

from __future__ import annotations

from typing import Any

import typer

from notifier.cli._client_render import alerts_table
from notifier.cli._common import out_console
from notifier.cli.client import JSON, TOKEN, URL, _call, _client, _print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def alerts(
        outcome: str | None = typer.Option(
            None,
            "--outcome",
            help="started, joined, duplicate, suppressed, resolved, unrouted, rejected or test.",
        ),
        source: str | None = typer.Option(
            None, "--source", help="native, alertmanager, grafana, mqtt or pagerduty."
        ),
        service: str | None = typer.Option(None, "--service", help="A plan service id, e.g. SEED."),
        activation: str | None = typer.Option(
            None, "--activation", help="Only the alerts of one activation (id or ref)."
        ),
        since: str | None = typer.Option(None, "--since", help="RFC 3339, e.g. 2026-03-02T07:00:00Z."),
        limit: int = typer.Option(100, "--limit", min=1, max=1000, help="How many, newest first."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """List the alerts received, newest first, with their outcome, why, and their activation."""
        client = _client(url, token)
        rows: list[dict[str, Any]] = _call(
            lambda: client.alerts(
                outcome=outcome,
                source=source,
                service=service,
                activation=activation,
                since=since,
                limit=limit,
            )
        )
        if as_json:
            _print_json(rows)
        elif not rows:
            out_console.print("no alerts", markup=False)
        else:
            out_console.print(alerts_table(rows))

    @app.command("page-again")
    def page_again(
        activation_id: str = typer.Argument(..., help="A cancelled or closed activation (id or ref)."),
        reason: str = typer.Option("", "--reason", help="Why (activity log)."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Page again for the outage of a cancelled or closed activation whose alerts are suppressed:
        a new activation of the same tree, which the incident's alerts join from now on."""
        client = _client(url, token)
        view: dict[str, Any] = _call(lambda: client.page_again(activation_id, reason))
        if as_json:
            _print_json(view)
            return
        out_console.print(
            f"paged again: activation {view['id']} (ref {view['ref']}) {view['status']}", markup=False
        )
