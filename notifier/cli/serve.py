"""`notifier serve`: run the daemon."""

from __future__ import annotations

import typer

from notifier.cli._common import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        shutdown_timeout: float = typer.Option(10.0, help="seconds to drain in-flight sends on SIGTERM"),
    ) -> None:
        """Run the daemon: HTTP API and webhooks, engine, (MQTT, scheduler) in one process."""
        from pydantic import ValidationError

        from notifier.logging import configure_logging
        from notifier.settings import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"configuration: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        configure_logging(settings.log_format, max_value_chars=settings.limits.log_value_chars)
        from notifier import eventloop
        from notifier.daemon import serve as run

        raise typer.Exit(eventloop.run(run(settings, shutdown_timeout)))
