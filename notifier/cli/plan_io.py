"""`notifier plan import|export|history|changes`: plan versions and the record of changes.

Import loads the plan files, refuses them with every problem located (file:line: path) if they
are invalid, and stores a new version only if something changed. Change descriptions mask phone
numbers and email addresses; the export is the data itself and is written in full.
"""

from __future__ import annotations

import asyncio
import getpass
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from notifier.cli._common import err_console, fail, out_console
from notifier.cli._groups import plan_app
from notifier.cli.db import URL_OPTION, database_url, describe_db_error
from notifier.domain.plan import Plan
from notifier.domain.plandiff import COLLECTIONS, Change, ChangeKind
from notifier.plan.loader import load
from notifier.settings import Settings
from notifier.store.db import NotMigrated, check_migrated, make_engine, session_factory
from notifier.store.plans import ExportFormat, PlanStore, VersionNotFound, dump_plan


class _Refused(Exception):
    """A user error found inside the async part; becomes `fail(message)` outside the event loop."""


def load_plan(paths: Sequence[Path]) -> Plan:
    """The plan in `paths` (files or directories), or `fail` with every problem, one per line."""
    loaded = load(list(paths))
    for problem in loaded.warnings:
        err_console.print(problem.format(), markup=False)
    if not loaded.ok:
        for problem in loaded.errors:
            err_console.print(problem.format(), markup=False)
        where = ", ".join(map(str, paths))
        fail(f"the plan in {where} has {len(loaded.errors)} error(s); nothing was imported")
    if loaded.plan is None:
        fail(f"no plan data (organisation, people, ...) found in {', '.join(map(str, paths))}")
    return loaded.plan


@asynccontextmanager
async def _open_store(url: str) -> AsyncIterator[PlanStore]:
    engine = make_engine(url)
    try:
        try:
            await check_migrated(engine)
        except NotMigrated as exc:
            raise _Refused(str(exc)) from None
        yield PlanStore(session_factory(engine))
    finally:
        await engine.dispose()


def _run(url: str, work: Any) -> Any:
    try:
        return asyncio.run(work)
    except _Refused as exc:
        fail(str(exc))
    except VersionNotFound as exc:
        fail(f"{exc}; see: notifier plan history")
    except Exception as exc:  # one line for the operator, never a traceback
        fail(describe_db_error(url, exc))


@plan_app.command("import")
def import_command(
    paths: list[Path] = typer.Argument(
        None, help="Plan files or directories (default: settings plan_paths)."
    ),
    author: str = typer.Option(
        None,
        help="Who made the change: a person id of the plan, shown as their name and roles in the record "
        "of changes (default: the OS user).",
    ),
    comment: str = typer.Option("", help="Why: recorded with the new version."),
    url: str | None = URL_OPTION,
) -> None:
    """Validate the plan files and store them as a new plan version if anything changed."""
    target = database_url(url)
    plan = load_plan(paths or Settings().plan_paths)
    who = author or _os_user()

    async def work() -> tuple[int | None, list[Change]]:
        async with _open_store(target) as store:
            result = await store.import_plan(plan, author=who, comment=comment)
        return result.version, result.changes

    version, changes = _run(target, work())
    if version is None:
        typer.echo("plan unchanged: no new version")
        return
    if version == 1:
        added = Counter(
            COLLECTIONS.get(c.entity, str(c.entity)) for c in changes if c.kind is ChangeKind.ADDED
        )
        typer.echo(f"plan version 1 stored (first version): {_counts(added)}")
        return
    typer.echo(f"plan version {version} stored, {len(changes)} change(s):")
    for change in changes:
        typer.echo(f"  {change.describe()}")


@plan_app.command("export")
def export_command(
    fmt: str = typer.Option("yaml", "--format", help="yaml or json."),
    version: int | None = typer.Option(None, "--version", help="Plan version (default: the latest)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="File to write (default: stdout)."),
    url: str | None = URL_OPTION,
    appendices: bool = typer.Option(
        False,
        "--appendices",
        help="Write the printable plan appendices (HTML) instead: contact lists, call trees, record of "
        "changes, BIA, alternate sites. -o may name a directory (writes plan-appendices.html in it); "
        "-o FILE.md writes the BIA and alternate-sites appendices as Markdown.",
    ),
    calltrees: list[Path] = typer.Option(
        None, "--calltrees", help="Call-tree files or directories for --appendices (default: settings)."
    ),
) -> None:
    """Write a stored plan version as a file that `notifier plan import` reads back unchanged."""
    if appendices:
        _export_appendices(version, output, database_url(url), calltrees)
        return
    if fmt not in ("yaml", "json"):
        raise typer.BadParameter("must be yaml or json", param_hint="--format")
    export_format: ExportFormat = "json" if fmt == "json" else "yaml"
    target = database_url(url)

    async def work() -> Plan:
        async with _open_store(target) as store:
            if version is not None:
                return await store.get(version)
            latest = await store.latest()
        if latest is None:
            raise _Refused("no plan has been imported yet; run: notifier plan import")
        return latest[1]

    text = dump_plan(_run(target, work()), export_format)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        fail(f"{output}: {exc.strerror or exc}")


def _export_appendices(version: int | None, output: Path | None, target: str, calltrees: list[Path]) -> None:
    from datetime import UTC, datetime

    from notifier.reports.appendices import VersionRecord, render_appendices
    from notifier.reports.bia_appendix import bia_and_sites_markdown

    async def work() -> tuple[int, Plan, list[VersionRecord]]:
        async with _open_store(target) as store:
            infos = [v for v in await store.versions() if version is None or v.version <= version]
            if not infos:
                raise _Refused("no plan has been imported yet; run: notifier plan import")
            chosen = infos[-1].version if version is None else version
            plan = await store.get(chosen)
            history = [
                VersionRecord(
                    v.version, v.created_at, v.author, v.comment, tuple(await store.changes(v.version))
                )
                for v in infos
            ]
        return chosen, plan, history

    chosen, plan, history = _run(target, work())
    tree_paths = calltrees or Settings().calltree_paths
    loaded = load(list(tree_paths))
    if loaded.trees is None:
        where = ", ".join(map(str, tree_paths))
        err_console.print(
            f"warning: no valid call trees in {where}; the appendix leaves them out", markup=False
        )
    markdown = output is not None and output.suffix == ".md"
    if markdown:  # the BIA and sites appendices as Markdown (for a wiki or a pull request review)
        text = bia_and_sites_markdown(plan)
    else:
        text = render_appendices(plan, loaded.trees, history, datetime.now(UTC), chosen)
    if output is None:
        typer.echo(text, nl=False)
        return
    target_file = output / "plan-appendices.html" if output.is_dir() or not output.suffix else output
    try:
        target_file.parent.mkdir(parents=True, exist_ok=True)
        target_file.write_text(text)
    except OSError as exc:
        fail(f"{target_file}: {exc.strerror or exc}")
    err_console.print(
        f"appendices of plan version {chosen} written to {target_file} (contains personal data)"
    )


@plan_app.command("history")
def history_command(url: str | None = URL_OPTION) -> None:
    """List the plan versions: when, who, why, how many changes."""
    target = database_url(url)

    async def work() -> list[Any]:
        async with _open_store(target) as store:
            return list(await store.versions())

    versions = _run(target, work())
    if not versions:
        typer.echo("no plan has been imported yet")
        return
    table = Table("version", "created (UTC)", "author", "changes", "comment")
    for info in versions:
        created = info.created_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(info.version), created, info.author, str(info.change_count), info.comment)
    out_console.print(table)


@plan_app.command("changes")
def changes_command(
    version: int = typer.Argument(..., help="Plan version."), url: str | None = URL_OPTION
) -> None:
    """Show the record of changes that made VERSION (contact data masked)."""
    target = database_url(url)

    async def work() -> list[Change]:
        async with _open_store(target) as store:
            return await store.changes(version)

    changes = _run(target, work())
    typer.echo(f"plan version {version}: {len(changes)} change(s)")
    for change in changes:
        typer.echo(f"  {change.describe()}")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counter.items()) + " added"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return "unknown"
