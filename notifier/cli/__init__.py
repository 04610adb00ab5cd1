"""The `notifier` command line.

Every module in this package that defines `register(app)` adds its commands; the modules are found
at start-up so each command group lives in its own small file. Exit codes follow DESIGN.md §5:
0 success, 1 a user error with a one-line message naming the file or field, 2 a usage error.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from notifier.cli import _groups

app = typer.Typer(
    name="notifier",
    help="Notification and call-tree dispatch daemon driven by an IT service continuity plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


app.add_typer(_groups.plan_app, name="plan")
app.add_typer(_groups.db_app, name="db")
app.add_typer(_groups.token_app, name="token")
_register_all()


def main() -> None:
    app()
