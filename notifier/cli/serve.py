"""`notifier serve`: run the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from notifier.cli._common import fail

if TYPE_CHECKING:
    from notifier.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        shutdown_timeout: float = typer.Option(10.0, help="seconds to drain in-flight sends on SIGTERM"),
    ) -> None:
        """Run the daemon: HTTP API and webhooks, engine, (MQTT, scheduler) in one process."""
        from notifier.logging import configure_logging

        settings = _settings()
        configure_logging(settings.log_format, max_value_chars=settings.limits.log_value_chars)
        from notifier import eventloop
        from notifier.daemon import serve as run

        raise typer.Exit(eventloop.run(run(settings, shutdown_timeout)))

    @app.command("webhook-worker")
    def webhook_worker(
        index: int = typer.Option(0, min=0, help="this worker's number (its spool segments' name)"),
    ) -> None:
        """Run one Twilio webhook worker as its own service (README: "Webhook workers"): it keeps
        taking webhooks while the daemon restarts. `serve` starts `webhooks.workers` of them itself."""
        from notifier.logging import configure_logging

        settings = _settings()
        configure_logging(settings.log_format, max_value_chars=settings.limits.log_value_chars)
        from notifier import eventloop
        from notifier.api.webhook_worker import serve as run

        eventloop.run(run(settings, index, watch_stdin=False))


def _settings() -> Settings:
    from pydantic import ValidationError

    from notifier.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"configuration: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
