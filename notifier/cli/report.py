"""`notifier report ID [--format md|html|csv|json|png|log|log-md|aar] [-o FILE]`.

Reads the activation straight from the database named in the settings (or `--url`), so a report
can be produced on any host with access to the database, with or without a running daemon.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path

import typer

from notifier.cli._common import err_console, fail
from notifier.settings import Settings
from notifier.store.db import make_engine, redact


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    csv = "csv"
    json = "json"
    png = "png"
    log = "log"
    log_md = "log-md"
    aar = "aar"


async def _render(url: str, activation_id: str, fmt: str) -> bytes | None:
    from notifier.reports.build import render_report

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await render_report(conn, activation_id, fmt)
    finally:
        await engine.dispose()


def report(
    activation_id: str = typer.Argument(..., help="Activation id (as shown by `notifier status`)."),
    fmt: ReportFormat = typer.Option(
        ReportFormat.md,
        "--format",
        "-f",
        help="md, html, csv, json: the report; png: its acknowledgement curve; "
        "log / log-md: the NIST activity log (CSV / Markdown); aar: the after-action report skeleton.",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    url: str | None = typer.Option(None, "--url", help="Database URL (default: NOTIFIER_DATABASE_URL)."),
) -> None:
    """Report on one activation: figures, PASS/FAIL against the time limit, misses and their reasons."""
    target = url or Settings().database_url
    try:
        content = asyncio.run(_render(target, activation_id, fmt.value))
    except Exception as exc:  # a coordinator gets one line, never a traceback
        cause = getattr(exc, "orig", None) or exc
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        fail(f"cannot read activation {activation_id!r} from {redact(target)}: {first_line}")
    if content is None:
        fail(f"no activation {activation_id!r} in the database at {redact(target)}")
    if output is None:
        if fmt is ReportFormat.png and sys.stdout.isatty():
            fail("--format png writes binary data; give --output FILE")
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(content)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    err_console.print(f"wrote {output} ({len(content)} bytes)", markup=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
