"""Command groups shared by several CLI modules (`notifier plan ...`, `notifier db ...`).

They are created here once and attached to the root app in `__init__`; modules add commands to them.
"""

from __future__ import annotations

import typer

plan_app = typer.Typer(help="Import, export and review the ITSCM plan.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
