"""`notifier demo`: run the NIST sample call tree on the built-in sandbox and write its report."""

from __future__ import annotations

from pathlib import Path

import typer

from notifier import eventloop
from notifier.cli._common import fail, out_console


def demo(
    speed: float = typer.Option(
        100.0, min=1.0, help="how many times faster than the wall clock tree time runs"
    ),
    seed: int = typer.Option(7, help="seed of the personas' reply delays (same seed, same story)"),
    out: Path = typer.Option(Path("var/demo"), "--out", "-o", help="directory for the report and the log"),
    timeout: float = typer.Option(55.0, min=1.0, help="wall seconds to wait for the tree to complete"),
    twilio_down: bool = typer.Option(
        False, "--twilio-down", help="Twilio answers 503: SMS fail over to the on-premises gateway"
    ),
) -> None:
    """One command, no credentials: SQLite in a temporary directory, the Twilio/SMTP sandbox, the
    example plan; activates the NIST sample tree, shows it live and prints the report's path."""
    from notifier.demo import DemoOptions, print_summary, run_demo
    from notifier.logging import configure_logging

    try:
        out.mkdir(parents=True, exist_ok=True)
        log_file = (out / "demo.log").open("w", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write to {out}: {exc.strerror or exc}")
    with log_file:
        # the daemon's own log goes to a file so that it does not tear the live display
        configure_logging("json", stream=log_file)
        options = DemoOptions(speed=speed, seed=seed, out_dir=out, timeout=timeout, twilio_down=twilio_down)
        out_console.print(
            f"notifier demo: NIST sample call tree on the built-in sandbox, time x{speed:g} "
            f"(log: {out / 'demo.log'})",
            highlight=False,
        )
        try:
            result = eventloop.run(run_demo(options, out_console))
        except FileNotFoundError as exc:
            fail(str(exc))
        except Exception as exc:  # one line for the user; the log file has the details
            import structlog

            structlog.get_logger("notifier.demo").exception("demo failed")
            fail(f"the demo failed: {type(exc).__name__}: {exc} (details in {out / 'demo.log'})")
    print_summary(result, out_console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
