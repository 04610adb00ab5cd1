"""Coordinator commands that drive a running daemon through its HTTP API.

`notifier activate TREE`, `status [ID]`, `ack ID PERSON`, `update ID|REF --text ...`, `cancel ID`,
`close ID`. They never touch the database: the daemon is the only writer, and a coordinator can run
them from any machine that reaches the API with a coordinator token. Readable output by default,
`--json` prints the API's JSON unchanged for scripts. Every failure is one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.live import Live

from notifier.cli._client_http import ApiClient, ClientError, resolve
from notifier.cli._client_render import FINISHED, activation_tree, activations_table
from notifier.cli._common import fail, out_console
from notifier.domain.calltree import ActivationKind
from notifier.domain.content import CONTENT_FIELDS
from notifier.domain.progress import answer_outcome

URL = typer.Option(None, "--url", help="Daemon URL (default: NOTIFIER_API_URL, api_url in the config file).")
TOKEN = typer.Option(
    None, "--token", help="Bearer token (default: NOTIFIER_API_TOKEN, api_token in the config file)."
)
JSON = typer.Option(False, "--json", help="Print the API's JSON instead of tables.")


def _client(url: str | None, token: str | None) -> ApiClient:
    try:
        found_url, found_token = resolve(url, token)
    except ClientError as exc:
        fail(str(exc))
    return ApiClient(found_url, found_token)


def _call(work: Any) -> Any:
    try:
        return work()
    except ClientError as exc:
        fail(str(exc))


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_fields(values: list[str]) -> dict[str, str]:
    """`["nature=SEED down", "outage_estimate=2h"]` -> a dict; a bad item is a usage error."""
    fields: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{item!r}: expected NAME=VALUE, e.g. nature='SEED unavailable'")
        fields[name.strip()] = value
    return fields


def _statuses_of(view: dict[str, Any], person: str) -> frozenset[str]:
    """The person's statuses in an activation view (one per node they hold)."""
    return frozenset(
        str(p.get("status"))
        for node in view.get("nodes", [])
        for p in node.get("people", [])
        if p.get("person") == person
    )


def watch(client: ApiClient, activation_id: str, interval: float, as_json: bool) -> dict[str, Any]:
    """Refresh the activation until it is completed, closed or cancelled; Ctrl-C stops watching only."""
    view: dict[str, Any] = _call(lambda: client.get(activation_id))
    try:
        if as_json:
            while view.get("status") not in FINISHED:
                time.sleep(interval)
                view = _call(lambda: client.get(activation_id))
            return view
        with Live(activation_tree(view), console=out_console, refresh_per_second=4) as live:
            while view.get("status") not in FINISHED:
                time.sleep(interval)
                view = _call(lambda: client.get(activation_id))
                live.update(activation_tree(view))
    except KeyboardInterrupt:
        out_console.print(f"stopped watching; activation {activation_id} goes on", markup=False)
    return view


def register(app: typer.Typer) -> None:
    @app.command()
    def activate(
        tree: str = typer.Argument(..., help="Call tree id, e.g. nist-sample or taxud-crisis."),
        kind: ActivationKind = typer.Option(
            ActivationKind.INCIDENT, "--kind", help="incident, drill or test."
        ),
        field: list[str] = typer.Option(
            [], "--field", "-f", help="Message field NAME=VALUE; names: " + ", ".join(CONTENT_FIELDS) + "."
        ),
        reason: str = typer.Option("", "--reason", help="Why the tree is started (activity log)."),
        watch_: bool = typer.Option(False, "--watch", "-w", help="Show live progress until it completes."),
        interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between refreshes."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Start a call tree on the running daemon."""
        fields = parse_fields(field)
        client = _client(url, token)
        view: dict[str, Any] = _call(lambda: client.start(tree, kind.value, fields, reason))
        if watch_:
            if not as_json:
                out_console.print(
                    f"started activation {view['id']} (ref {view['ref']}); watching, Ctrl-C to stop watching",
                    markup=False,
                )
            view = watch(client, str(view["id"]), interval, as_json)
            if as_json:
                _print_json(view)
            return
        if as_json:
            _print_json(view)
            return
        out_console.print(f"started activation {view['id']} (ref {view['ref']})", markup=False)
        out_console.print(activation_tree(view))

    @app.command()
    def status(
        activation_id: str | None = typer.Argument(None, help="One activation; without it, list them."),
        state: str | None = typer.Option(None, "--status", help="List only: open, completed, closed..."),
        limit: int = typer.Option(50, "--limit", min=1, max=500, help="List only: how many, newest first."),
        watch_: bool = typer.Option(
            False, "--watch", "-w", help="Refresh one activation until it completes."
        ),
        interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between refreshes."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """List activations, or show one with per-node and per-person progress."""
        client = _client(url, token)
        if activation_id is None:
            rows = _call(lambda: client.list(state, limit))
            if as_json:
                _print_json(rows)
            elif not rows:
                out_console.print("no activations", markup=False)
            else:
                out_console.print(activations_table(rows))
            return
        if watch_:
            view = watch(client, activation_id, interval, as_json)
            if as_json:
                _print_json(view)
            return
        view = _call(lambda: client.get(activation_id))
        if as_json:
            _print_json(view)
        else:
            out_console.print(activation_tree(view))

    @app.command()
    def ack(
        activation_id: str = typer.Argument(..., help="Activation id or reference code (ref)."),
        person: str = typer.Argument(..., help="Person id from the plan, e.g. p-lindqvist."),
        decline: bool = typer.Option(False, "--decline", help="Record that the person cannot respond."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Acknowledge (or decline) on behalf of a person, e.g. after a phone call outside the system."""
        client = _client(url, token)
        response = "decline" if decline else "ack"
        before: dict[str, Any] = _call(lambda: client.get(activation_id))
        view: dict[str, Any] = _call(lambda: client.ack(activation_id, person, response))
        if as_json:
            _print_json(view)
            return
        changed, outcome = answer_outcome(
            _statuses_of(before, person), _statuses_of(view, person), str(view["status"])
        )
        what = ("declined" if decline else "acknowledged") if changed else "recorded"
        where = f"activation {view['id']} (ref {view['ref']})"
        if changed:
            out_console.print(
                f"{what} for {person} on {where}: {outcome}; activation {view['status']}", markup=False
            )
        else:
            out_console.print(f"{what} for {person} on {where}; {outcome}", markup=False)

    @app.command()
    def update(
        activation: str = typer.Argument(..., help="Activation id, or its reference code (e.g. K7Q)."),
        text: str = typer.Option(..., "--text", "-t", help="The update, e.g. 'SEED back 14:00'."),
        audience: str = typer.Option(
            "reached",
            "--audience",
            "-a",
            help="reached (everyone a message reached), pending (being tried, no answer yet), all, "
            "or node:<node id> (that node's subtree).",
        ),
        field: list[str] = typer.Option(
            [], "--field", "-f", help="Revised message field NAME=VALUE, e.g. outage_estimate='2 h more'."
        ),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Send an update to the people of an activation (rendered with the tree's update template)."""
        fields = parse_fields(field)
        client = _client(url, token)
        receipt: dict[str, Any] = _call(lambda: client.update(activation, text, audience, fields))
        if as_json:
            _print_json(receipt)
            return
        out_console.print(
            f"update queued for {receipt['recipients']} people ({receipt['audience']}) on activation "
            f"{receipt['activation_id']} (ref {receipt['ref']})",
            markup=False,
        )

    @app.command()
    def cancel(
        activation_id: str = typer.Argument(..., help="Activation id or reference code (ref)."),
        reason: str = typer.Option("", "--reason", help="Why (activity log)."),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Stop an activation: no further messages or calls."""
        client = _client(url, token)
        view: dict[str, Any] = _call(lambda: client.cancel(activation_id, reason))
        if as_json:
            _print_json(view)
            return
        out_console.print(f"activation {view['id']} (ref {view['ref']}) {view['status']}", markup=False)

    @app.command()
    def close(
        activation_id: str = typer.Argument(..., help="Activation id or reference code (ref)."),
        message: str | None = typer.Option(
            None, "--message", "-m", help="The return-to-normal message (default: the tree's template)."
        ),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """Close an activation and send the return-to-normal message to everyone who was reached."""
        client = _client(url, token)
        view: dict[str, Any] = _call(lambda: client.close(activation_id, message))
        if as_json:
            _print_json(view)
            return
        reached = view.get("counts", {}).get("reached", 0)
        out_console.print(
            f"activation {view['id']} (ref {view['ref']}) {view['status']}; "
            f"return-to-normal message sent to the {reached} people reached",
            markup=False,
        )
