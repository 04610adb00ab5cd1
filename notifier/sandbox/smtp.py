"""An SMTP sink on the sandbox's own event loop, and a persona who clicks the ack link in a mail.

Why not `aiosmtpd.controller.Controller`: it runs the server in a second thread with its own loop;
serving `aiosmtpd.smtp.SMTP` with `loop.create_server` keeps everything on one loop so recorded
mails wake `expect_email` waiters directly.
"""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiosmtpd.smtp import SMTP, Envelope, Session

from notifier.sandbox.core import SandboxState
from notifier.sandbox.personas import Persona
from notifier.sandbox.records import Callback, ReceivedEmail
from notifier.sandbox.webhooks import TIMEOUT as WEBHOOK_TIMEOUT


class _Recorder:
    """aiosmtpd handler: parse each mail, record it, schedule the recipients' persona clicks."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = message_from_bytes(raw, policy=policy.default)
        email = ReceivedEmail(
            envelope_from=str(envelope.mail_from or ""),
            envelope_to=[str(rcpt) for rcpt in envelope.rcpt_tos],
            message=message,
            received_at=self.state.clock.now(),
        )
        self.state.emails.append(email)
        await self.state.changed()
        for address in email.envelope_to:
            persona = self.state.personas.for_email(address)
            if persona is not None and persona.email_click:
                self.state.spawn(lambda p=persona: click_later(self.state, email, p))  # type: ignore[misc]
        return "250 Message accepted for delivery"


async def start_smtp(state: SandboxState, host: str, port: int) -> asyncio.Server:
    """Serve the sink; `port=0` picks a free port (read it from `server.sockets[0]`)."""
    loop = asyncio.get_running_loop()
    handler = _Recorder(state)
    return await loop.create_server(lambda: SMTP(handler, hostname="sandbox.example.org"), host, port)


class _FormFinder(HTMLParser):
    """The first `<form>` of a page: its action, method and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "GET"
        self.fields: dict[str, str] = {}
        self.found = False
        self.inside = False
        self.submitter_chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and not self.found:
            self.found = self.inside = True
            self.action = values.get("action")
            self.method = values.get("method", "GET").upper()
        elif self.inside and tag in {"input", "button"} and values.get("name"):
            kind = values.get("type", "text" if tag == "input" else "submit").lower()
            if kind in {"submit", "image"}:
                if self.submitter_chosen:
                    return
                self.submitter_chosen = True
            if kind not in {"checkbox", "radio"} or "checked" in values:
                self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


async def click(state: SandboxState, email: ReceivedEmail, pattern: str) -> list[Callback]:
    """GET the first link matching `pattern`, then submit the first form on that page.

    Mirrors a person (not a mail scanner): the GET alone must not acknowledge; the POST does.
    """
    match = re.search(pattern, email.text())
    if match is None:
        return []
    assert state.session is not None, "sandbox not started"
    url = match.group(0)
    steps: list[Callback] = []
    try:
        async with state.session.get(url, timeout=WEBHOOK_TIMEOUT) as response:
            page = await response.text()
            steps.append(Callback("email-link", url, {}, response.status, page, state.clock.now()))
            page_url = str(response.url)
        form = _FormFinder()
        form.feed(page)
        if form.found:
            target = urljoin(page_url, form.action or page_url)
            async with state.session.request(
                form.method, target, data=form.fields, timeout=WEBHOOK_TIMEOUT
            ) as response:
                body = await response.text()
                steps.append(
                    Callback(
                        "email-form", target, dict(form.fields), response.status, body, state.clock.now()
                    )
                )
    except (aiohttp.ClientError, TimeoutError) as exc:
        steps.append(Callback("email-link", url, {}, None, f"{type(exc).__name__}: {exc}", state.clock.now()))
    email.clicks.extend(steps)
    await state.changed()
    return steps


async def click_later(state: SandboxState, email: ReceivedEmail, persona: Persona) -> Any:
    await state.clock.sleep(persona.email_click_after)
    return await click(state, email, persona.email_link_pattern)
