"""Helpers shared by CLI modules: user errors end in one line on stderr and exit code 1."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` (one line, naming the file or field) and exit with `code`."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(code)
