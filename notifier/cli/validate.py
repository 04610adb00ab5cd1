"""`notifier validate [PATHS...]`: check plan and call-tree files before the daemon loads them.

Prints every problem as `file:line:column: path: message` (all of them, not the first), then, when
the files load, each call tree's worst-case time under each policy it can be started with (the
figure `plan check` holds against the tree's time limit and the RTO of the services routed to it),
then a summary line; exits 1 when any error was found, 0 otherwise (warnings do not fail).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli._common import err_console, out_console
from notifier.domain.durations import format_duration
from notifier.domain.findings import Review
from notifier.domain.plan import ChannelKind
from notifier.domain.review_trees import tree_timings
from notifier.plan.loader import Loaded, load
from notifier.settings import Settings

DEFAULT_PATHS = [Path("config"), Path("calltrees")]


def summary(loaded: Loaded) -> str:
    """`2 files, 0 errors` when clean; `3 errors in 2 files (6 files checked)` otherwise."""
    checked = len(loaded.files)
    errors = loaded.errors
    warnings = len(loaded.warnings)
    tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    if not errors:
        return f"{checked} file{'s' if checked != 1 else ''}, 0 errors{tail}"
    files = {p.location.file for p in errors if p.location}
    where = f" in {len(files)} file{'s' if len(files) != 1 else ''}" if files else ""
    return (
        f"{len(errors)} error{'s' if len(errors) != 1 else ''}{where} "
        f"({checked} file{'s' if checked != 1 else ''} checked){tail}"
    )


def configured_rates() -> dict[ChannelKind, float]:
    """SMS and voice messages per second of the configured senders, counted as `notifier estimate`
    counts them (`twilio.from_numbers` x `twilio.rate_per_sender`); none when the configuration
    cannot be read (the worst case then leaves queueing out)."""
    try:
        settings = Settings()
    except Exception:  # a broken daemon configuration is `notifier serve`'s error to report
        return {}
    rate = len(settings.twilio.from_numbers) * settings.twilio.rate_per_sender
    return {ChannelKind.SMS: rate, ChannelKind.VOICE: rate}


def worst_cases(loaded: Loaded, rates: dict[ChannelKind, float] | None = None) -> list[dict[str, object]]:
    """Each (tree, policy) way of starting a tree with its worst case, when the files loaded."""
    if not loaded.ok or loaded.plan is None or loaded.trees is None:
        return []
    routed = Review(loaded.plan, loaded.trees, date.today()).services_by_route
    return [
        {
            "calltree": t.tree.id,
            "policy": t.policy,
            "route": t.route,
            "worst_case": format_duration(timedelta(seconds=round(t.worst.total.total_seconds()))),
            "queueing": format_duration(timedelta(seconds=round(t.worst.queueing.total_seconds()))),
            "time_limit": format_duration(t.tree.time_limit),
            "within_limit": t.worst.total <= t.tree.time_limit,
            "slowest_branch": list(t.worst.branch),
        }
        for t in tree_timings(loaded.plan, loaded.trees, routed, rates)
    ]


def _worst_line(case: dict[str, object]) -> str:
    via = f" (route {case['route']})" if case["route"] else ""
    verdict = "within" if case["within_limit"] else "OVER"
    return (
        f"worst case: {case['calltree']} under {case['policy']}{via}: {case['worst_case']} "
        f"(queueing {case['queueing']}), {verdict} its limit of {case['time_limit']}"
    )


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories (default: config calltrees).", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Check plan and call-tree YAML files: syntax, fields, references, cycles."""
    try:
        loaded = load(paths or DEFAULT_PATHS)
    except Exception as exc:  # never a traceback for a coordinator; this is a bug to report
        message = f"error: internal error while validating: {type(exc).__name__}: {exc}"
        err_console.print(message, markup=False)
        raise typer.Exit(1) from None
    if as_json:
        document = {
            "ok": loaded.ok,
            "files": loaded.files,
            "errors": len(loaded.errors),
            "warnings": len(loaded.warnings),
            "problems": [p.to_json() for p in loaded.problems],
            "worst_cases": worst_cases(loaded, configured_rates()),
        }
        out_console.print(json.dumps(document, indent=2), markup=False, soft_wrap=True)
    else:
        for problem in loaded.problems:
            out_console.print(problem.format(), markup=False, soft_wrap=True)
        for case in worst_cases(loaded, configured_rates()):
            out_console.print(_worst_line(case), markup=False, soft_wrap=True)
        out_console.print(summary(loaded), markup=False)
    raise typer.Exit(0 if loaded.ok else 1)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
