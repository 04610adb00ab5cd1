"""`notifier sandbox`: run the loopback Twilio + SMTP provider standalone until Ctrl-C.

For demos, manual testing and subprocess tests: point the daemon's `twilio.base_url` and SMTP port
at it, script personas from a YAML file or with `POST /sandbox/personas`, and read what was sent
at `/sandbox/messages`, `/sandbox/calls`, `/sandbox/emails`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer

from notifier.cli._common import fail, out_console


def register(app: typer.Typer) -> None:
    @app.command()
    def sandbox(
        host: str = typer.Option("127.0.0.1", help="address to listen on (loopback by default)"),
        port: int = typer.Option(0, help="Twilio REST port; 0 picks a free port"),
        smtp_port: int = typer.Option(0, help="SMTP sink port; 0 picks a free port"),
        personas: Path | None = typer.Option(None, help="YAML list of personas (number, preset, ...)"),
        inbound_sms_url: str | None = typer.Option(
            None, help="where handset replies are posted, e.g. http://127.0.0.1:8080/webhooks/twilio/sms"
        ),
        account_sid: str | None = typer.Option(None, help="default: NOTIFIER_TWILIO__ACCOUNT_SID"),
        auth_token: str | None = typer.Option(None, help="default: NOTIFIER_TWILIO__AUTH_TOKEN"),
        clock_scale: float | None = typer.Option(None, help="run delays this many times faster"),
        twilio_down: bool = typer.Option(
            False, "--twilio-down", help="Twilio answers 503 (switch at runtime: POST /sandbox/outage)"
        ),
        gateway_mo_url: str | None = typer.Option(
            None,
            help="where gateway (Kannel stand-in) replies go, e.g. http://127.0.0.1:8080/webhooks/kannel/sms",
        ),
    ) -> None:
        """Run the Twilio + SMTP sandbox: signed callbacks, scripted personas, JSON view of what was sent."""
        from pydantic import ValidationError

        from notifier.clock import RealClock, ScaledClock
        from notifier.sandbox import Persona, Sandbox, load_personas, mask_number
        from notifier.settings import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"configuration: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        loaded: list[Persona] = []
        if personas is not None:
            if not personas.is_file():
                fail(f"{personas}: no such file")
            try:
                loaded = load_personas(personas)
            except (ValueError, OSError) as exc:
                fail(str(exc).splitlines()[0])
        scale = clock_scale if clock_scale is not None else settings.clock_scale
        if scale <= 0:
            fail("--clock-scale: must be positive")
        box = Sandbox(
            account_sid or settings.twilio.account_sid,
            auth_token or settings.twilio.auth_token.get_secret_value(),
            inbound_sms_url=inbound_sms_url,
            clock=RealClock() if scale == 1 else ScaledClock(scale),
            host=host,
            port=port,
            smtp_port=smtp_port,
            personas=loaded,
            gateway_mo_url=gateway_mo_url,
        )
        box.faults.twilio_down = twilio_down

        async def run() -> None:
            try:
                await box.start()
            except OSError as exc:
                fail(f"cannot listen on {host}: {exc.strerror or exc}")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            out_console.print(f"twilio  {box.url}  (client.api.base_url)", markup=False)
            out_console.print(f"smtp    {host}:{box.smtp_port}", markup=False)
            out_console.print(f"gateway {box.url}/cgi-bin/sendsms  (Kannel's sendsms)", markup=False)
            if twilio_down:
                out_console.print(
                    'twilio is DOWN (503); POST /sandbox/outage {"twilio": false}', markup=False
                )
            view = f"{box.url}/sandbox/messages  /sandbox/calls  /sandbox/emails"
            out_console.print(f"view    {view}", markup=False)
            for persona in loaded:
                who = mask_number(persona.number) if persona.number else "(email only)"
                behaviour = f"sms_reply={persona.sms_reply} voice={persona.voice}"
                out_console.print(f"persona {who}  {behaviour}", markup=False)
            out_console.print("ready; Ctrl-C to stop", markup=False)
            try:
                await stop.wait()
            finally:
                await box.stop()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
