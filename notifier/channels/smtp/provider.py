"""Email through an SMTP relay with aiosmtplib: multipart text + HTML, one connection per message.

The SMTP conversation is driven step by step (connect, MAIL, RCPT, DATA) so that a failure can be
placed before or after the message was handed over, which decides whether resending is safe:

| what happened                                         | Outcome      | why                               |
|-------------------------------------------------------|--------------|-----------------------------------|
| 250 after DATA                                        | ACCEPTED     | the relay took responsibility     |
| RCPT refused with 5xx (550 no such user, 553 ...)     | INVALID      | this address will never work      |
| any 4xx before the message was accepted (421, 450,    | RATE_LIMITED | a transient refusal: nothing was  |
| 451, 452; greylisting, throttling)                    |              | accepted, retry after a backoff   |
| 5xx to MAIL/DATA, authentication refused, bad address | FAILED       | refused; the same will fail again |
| connection refused / connect timeout / disconnected   | FAILED       | nothing was handed over; moving   |
| or timed out before DATA                              |              | on to the next method is better   |
|                                                       |              | than waiting on a dead relay      |
| disconnect or timeout *during or after* DATA          | UNKNOWN      | the relay may have queued it and  |
|                                                       |              | its 250 was lost: never resend    |

One connection per message keeps a slow or broken recipient from holding up others; the volume
of a call tree (tens to hundreds of mails) does not need pooling. Email never counts as a positive
acknowledgement by itself (DESIGN §4), so FAILED moving on quickly is the right bias.
"""

from __future__ import annotations

import asyncio
import email.policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

import aiosmtplib
import structlog

from notifier.channels.base import OutboundMessage, Outcome, SendResult
from notifier.domain.masking import mask_address, mask_text
from notifier.domain.plan import ChannelKind

log = structlog.get_logger(__name__)

Phase = Literal["connect", "envelope", "data", "done"]
ATTEMPT_HEADER = "X-Notifier-Attempt"


def build_email(msg: OutboundMessage, sender: str) -> EmailMessage:
    """The MIME message: plain text first, HTML alternative when given; headers name the attempt."""
    email_msg = EmailMessage()
    email_msg["From"] = sender
    email_msg["To"] = msg.to
    email_msg["Subject"] = " ".join((msg.subject or "").split())
    domain = sender.rpartition("@")[2] or "localhost"
    email_msg["Message-ID"] = make_msgid(idstring=msg.attempt_id[:40] or None, domain=domain)
    email_msg["Date"] = formatdate(usegmt=True)
    email_msg[ATTEMPT_HEADER] = msg.attempt_id
    email_msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to us
    email_msg.set_content(msg.text)
    if msg.html:
        email_msg.add_alternative(msg.html, subtype="html")
    return email_msg


def classify_smtp_error(exc: BaseException, phase: Phase) -> SendResult:
    """Map an aiosmtplib (or transport) error in a given phase to a SendResult (table above)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        outcome = Outcome.INVALID if exc.code >= 500 else Outcome.RATE_LIMITED
        return SendResult(outcome, error_code=str(exc.code), detail=mask_text(exc.message)[:200])
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return SendResult(
                Outcome.RATE_LIMITED, error_code=str(exc.code), detail=mask_text(exc.message)[:200]
            )
        return SendResult(Outcome.FAILED, error_code=str(exc.code), detail=mask_text(exc.message)[:200])
    transport = isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError)
    if transport and phase in ("data", "done"):
        return SendResult(
            Outcome.UNKNOWN,
            error_code="transport",
            detail=f"{type(exc).__name__} during DATA",
            provider_down=True,
        )
    if transport:  # nothing was handed over: the relay is failing, another one may be tried
        return SendResult(
            Outcome.FAILED,
            error_code="connect",
            detail=f"{type(exc).__name__} during {phase}",
            provider_down=True,
            not_sent=True,
        )
    if isinstance(exc, ValueError | UnicodeError):
        return SendResult(Outcome.INVALID, error_code="address", detail="address or header cannot be encoded")
    return SendResult(Outcome.UNKNOWN, error_code="internal", detail=type(exc).__name__)


class SmtpProvider:
    """Email via one SMTP relay (STARTTLS or implicit TLS, optional login)."""

    name = "smtp"
    channels = frozenset({ChannelKind.EMAIL.value})
    two_way = False  # answers come back as signed ack links (notifier.api.ackpages), not via SMTP

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        use_tls: bool = False,
        timeout: float = 30,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._start_tls, self._use_tls, self.timeout = start_tls, use_tls, timeout

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        if msg.channel != ChannelKind.EMAIL:
            return SendResult(Outcome.FAILED, error_code="channel", detail=f"smtp cannot send {msg.channel}")
        from_ = sender or self.sender
        bound = log.bind(attempt_id=msg.attempt_id, to=mask_address(msg.to))
        phase: Phase = "connect"
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            use_tls=self._use_tls,
            timeout=self.timeout,
        )
        try:
            email_msg = build_email(msg, from_)
            payload = email_msg.as_bytes(policy=email.policy.SMTP)
            async with asyncio.timeout(self.timeout * 3):  # a bound on the whole conversation
                await client.connect()
                phase = "envelope"
                await client.mail(from_)
                await client.rcpt(msg.to)
                phase = "data"
                await client.data(payload)
                phase = "done"
        except Exception as exc:  # every failure becomes an Outcome; nothing escapes to the engine
            result = classify_smtp_error(exc, phase)
            bound.warning(
                "smtp.send_failed", outcome=str(result.outcome), code=result.error_code, phase=phase
            )
            return result
        finally:
            if client.is_connected:
                try:
                    await client.quit(timeout=2)
                except Exception:  # the message is already handed over; QUIT is a courtesy
                    client.close()
        message_id = str(email_msg["Message-ID"])
        bound.info("smtp.accepted", message_id=message_id)
        return SendResult(Outcome.ACCEPTED, provider_id=message_id, detail="250")

    async def close(self) -> None:
        """Nothing is kept open between messages."""
