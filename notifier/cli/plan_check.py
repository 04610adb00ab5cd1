"""`notifier plan check`: what a NIST SP 800-34 reviewer would flag, with file:line:column.

`notifier validate` says whether the files can be loaded at all; this command reviews a plan that
loads (missing alternates, stale contact data, BIA contradictions...). Output is one line per
finding, like a compiler, so an editor or CI log can jump to the line; `--json` is for tools. The
exit code is 1 when any finding is at or above the `--fail-on` level (default `error`), so a CI job
can gate plan changes on it: `--fail-on warning` for a strict gate, `--fail-on never` to only
report. Every rule code is listed in docs/plan-check.md.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from notifier.cli._common import err_console, fail, out_console
from notifier.cli._groups import plan_app
from notifier.cli.validate import configured_rates
from notifier.domain.review import SEVERITY_ORDER, Finding, Severity, review_plan
from notifier.plan.loader import Loaded, load
from notifier.plan.problems import Location, format_path
from notifier.settings import Settings
from notifier.store.db import check_migrated, is_sqlite, make_engine, redact
from notifier.store.drill_history import last_drills

DEFAULT_PATHS = (Path("config"), Path("calltrees"))
_PATHS_HELP = "plan and call-tree files or directories [default: config calltrees]"
_TODAY_HELP = "review as of this date (YYYY-MM-DD), for reproducible output"
_FAIL_ON_HELP = "exit 1 when a finding is at least this severe: error, warning, info or never"
_URL_HELP = (
    "database whose completed drills count as each tree's last test (default: the daemon's; "
    "skipped when it does not exist yet)"
)
_FAIL_LEVELS: dict[str, int] = {"error": 0, "warning": 1, "info": 2, "never": -1}


def locate_finding(loaded: Loaded, finding: Finding) -> Location | None:
    """The finding's position, or that of its nearest ancestor that the loader can place."""
    path = finding.path
    while True:
        location = loaded.locate(finding.source, path)
        if location is not None or not path:
            return location
        path = path[:-1]


def format_finding(finding: Finding, location: Location | None) -> str:
    """`file:line:column: severity code: message` (the path stands in when there is no file)."""
    where = str(location) if location is not None else format_path(finding.path) or finding.source
    return f"{where}: {finding.severity} {finding.code}: {finding.message}"


def finding_json(finding: Finding, location: Location | None) -> dict[str, object]:
    has_line = location is not None and location.line > 0
    return {
        "severity": finding.severity,
        "code": finding.code,
        "source": finding.source,
        "subject": finding.subject,
        "path": format_path(finding.path),
        "file": location.file if location else None,
        "line": location.line if location and has_line else None,
        "column": location.column if location and has_line else None,
        "message": finding.message,
    }


def _position(location: Location | None) -> tuple[str, int, int]:
    return (location.file, location.line, location.column) if location else ("", 0, 0)


def _parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        message = f"{value!r} is not a date; write it as YYYY-MM-DD"
        raise typer.BadParameter(message, param_hint="--today") from None


def _summary(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    severities = Counter(f.severity for f in findings)
    codes = Counter(f.code for f in findings)
    plural: dict[Severity, str] = {"error": "errors", "warning": "warnings", "info": "info"}
    counts = ", ".join(
        f"{severities[s]} {s if severities[s] == 1 else plural[s]}" for s in plural if severities[s]
    )
    by_code = ", ".join(f"{code} {count}" for code, count in sorted(codes.items()))
    return f"{len(findings)} findings ({counts}): {by_code}"


def drill_dates(url: str | None) -> dict[str, date]:
    """Each tree's latest completed drill from the store; {} (with a note when `--url` was given)
    when there is no database yet or it cannot be read: the plan's own record then counts alone."""
    try:
        target = url or Settings().database_url
    except Exception:
        return {}
    if is_sqlite(target):
        database = make_url(target).database
        if not database or database == ":memory:" or not Path(database).exists():
            if url:
                err_console.print(f"note: no database at {redact(target)}; drills not read", markup=False)
            return {}

    async def read() -> dict[str, date]:
        engine = make_engine(target)
        try:
            await check_migrated(engine)
            async with engine.connect() as conn:
                return await last_drills(conn)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(read())
    except Exception as exc:  # the review still runs on the plan's record
        if url:
            err_console.print(
                f"note: drills not read from {redact(target)}: {type(exc).__name__}", markup=False
            )
        return {}


@plan_app.command("check")
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help=_PATHS_HELP)] = None,
    today: Annotated[str | None, typer.Option("--today", help=_TODAY_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as a JSON document")] = False,
    fail_on: Annotated[str, typer.Option("--fail-on", help=_FAIL_ON_HELP)] = "error",
    url: Annotated[str | None, typer.Option("--url", help=_URL_HELP)] = None,
) -> None:
    """Review the plan and call trees as a NIST SP 800-34 reviewer would; exit 1 on findings at --fail-on."""
    as_of = _parse_today(today)
    if fail_on not in _FAIL_LEVELS:
        raise typer.BadParameter(f"{fail_on!r}: use error, warning, info or never", param_hint="--fail-on")
    loaded = load(list(paths) if paths else list(DEFAULT_PATHS))
    if not loaded.ok or loaded.plan is None:
        for problem in loaded.problems:
            err_console.print(problem.format(), markup=False)
        fail("the files did not load; fix the problems above (see `notifier validate`) and check again")
    for problem in loaded.warnings:
        err_console.print(problem.format(), markup=False)
    drills = drill_dates(url)
    findings = review_plan(loaded.plan, loaded.trees, as_of, drills=drills, rates=configured_rates())
    located = sorted(
        ((finding, locate_finding(loaded, finding)) for finding in findings),
        key=lambda pair: (SEVERITY_ORDER[pair[0].severity], *_position(pair[1])),
    )
    if as_json:
        document = {
            "today": as_of.isoformat(),
            "files": loaded.files,
            "findings": [finding_json(f, loc) for f, loc in located],
            "summary": dict(Counter(f.severity for f in findings)),
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        for finding, location in located:
            out_console.print(format_finding(finding, location), markup=False)
        out_console.print(_summary(findings), markup=False)
    level = _FAIL_LEVELS[fail_on]
    if any(SEVERITY_ORDER[f.severity] <= level for f in findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """The command is attached to the shared `plan` group at import time."""
