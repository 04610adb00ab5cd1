"""`notifier drill schedule` and `notifier drill start TREE`.

`schedule` answers the continuity manager's first question about drills, "when is the next one?",
from the configuration alone (no daemon needed): every configured drill with its next fire times
in the organisation's time zone and in UTC, and when its heads-up goes out. `start` runs a drill
now on the running daemon through the HTTP API, like `notifier activate --kind drill`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from notifier.cli._client_render import activation_tree
from notifier.cli._common import err_console, fail, out_console
from notifier.cli.client import JSON, TOKEN, URL, _call, _client, _print_json, parse_fields, watch
from notifier.domain.exercise import Exercise, ExerciseType
from notifier.plan.loader import load
from notifier.scheduling.timing import CronError, next_fire, zone
from notifier.settings import Settings

drill_app = typer.Typer(
    help="Scheduled notification drills: when they run, or run one now.", no_args_is_help=True
)


def _org_timezone(settings: Settings) -> str:
    loaded = load(list(settings.plan_paths))
    if loaded.plan is None:
        err_console.print("warning: the plan could not be loaded; times are shown in UTC", markup=False)
        return "UTC"
    return loaded.plan.organisation.timezone


def upcoming(settings: Settings, count: int, now: datetime, org_timezone: str) -> list[dict[str, Any]]:
    """The next `count` fire times of every configured drill (raises CronError on a bad entry)."""
    rows: list[dict[str, Any]] = []
    for index, drill in enumerate(settings.schedule.drills):
        tz = drill.timezone or org_timezone
        moment = now
        for _ in range(count):
            fire = next_fire(drill.cron, tz, moment)
            if fire is None:
                break
            rows.append(
                {
                    "entry": index,
                    "tree": drill.tree,
                    "cron": drill.cron,
                    "timezone": tz,
                    "enabled": drill.enabled,
                    "at": fire.isoformat(),
                    "local": fire.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z"),
                    "heads_up": (fire - drill.announce_before).isoformat() if drill.announced else None,
                }
            )
            moment = fire
    return rows


@drill_app.command("schedule")
def schedule_command(
    count: int = typer.Option(4, "--count", "-n", min=1, max=100, help="Fire times per drill."),
    as_json: bool = JSON,
) -> None:
    """List the configured drills and when they will run next (from the daemon configuration)."""
    settings = Settings()
    if not settings.schedule.drills:
        out_console.print(
            "no drills are configured (schedule.drills in the daemon configuration)", markup=False
        )
        return
    org_tz = _org_timezone(settings)
    try:
        for drill in settings.schedule.drills:
            zone(drill.timezone or org_tz)
        rows = upcoming(settings, count, datetime.now(UTC), org_tz)
    except CronError as exc:
        fail(f"schedule.drills: {exc}")
    if as_json:
        _print_json(rows)
        return
    table = Table("Tree", "Cron", "Runs at (local)", "UTC", "Heads-up (UTC)", "Enabled")
    for row in rows:
        table.add_row(
            row["tree"],
            row["cron"],
            row["local"],
            row["at"],
            row["heads_up"] or "-",
            "yes" if row["enabled"] else "no",
        )
    out_console.print(table)


@drill_app.command("start")
def start_command(
    tree: str = typer.Argument(..., help="Call tree id."),
    field: list[str] = typer.Option([], "--field", "-f", help="Message field NAME=VALUE."),
    exercise_type: str = typer.Option(
        "functional", "--exercise-type", help="tabletop, functional or full-scale (NIST SP 800-34 Table 3-6)."
    ),
    objective: list[str] = typer.Option([], "--objective", help="An objective or success criterion."),
    facilitator: str = typer.Option("", "--facilitator", help="Who conducts or facilitates the exercise."),
    scope: str = typer.Option("", "--scope", help="Which trees, teams or sites take part."),
    scenario: str = typer.Option("", "--scenario", help="The situation played; sent with the drill message."),
    reason: str = typer.Option("unscheduled drill", "--reason", help="Why (activity log)."),
    watch_: bool = typer.Option(False, "--watch", "-w", help="Show live progress until it completes."),
    url: str | None = URL,
    token: str | None = TOKEN,
    as_json: bool = JSON,
) -> None:
    """Run a drill of TREE now on the running daemon (its report is emailed when it completes)."""
    try:
        exercise = Exercise(
            exercise_type=ExerciseType(exercise_type),
            objectives=tuple(objective),
            facilitator=facilitator,
            scope=scope,
            scenario=scenario,
        )
    except ValueError:
        raise typer.BadParameter(
            f"{exercise_type!r}: use tabletop, functional or full-scale", param_hint="--exercise-type"
        ) from None
    fields = {**exercise.to_fields(), **parse_fields(field)}
    client = _client(url, token)
    view: dict[str, Any] = _call(lambda: client.start(tree, "drill", fields, reason))
    if watch_:
        view = watch(client, str(view["id"]), 1.0, as_json)
    if as_json:
        _print_json(view)
        return
    out_console.print(f"drill started: activation {view['id']} (ref {view['ref']})", markup=False)
    out_console.print(activation_tree(view))


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")
