"""SMS through a Kannel gateway (`smsbox` sendsms HTTP interface) with delivery reports.

Kannel is the operators' on-premises SMS gateway (SMPP to an SMSC, or a GSM modem): it keeps the
call tree working when the internet or the cloud provider is down. One GET per message:

    /cgi-bin/sendsms?username=..&password=..&to=..&text=..&dlr-mask=27&dlr-url=<our webhook>

| what happened                                      | Outcome  | why                                      |
|----------------------------------------------------|----------|------------------------------------------|
| 202 "Accepted for delivery" / "Queued for later"   | ACCEPTED | smsbox handed it to bearerbox; DLRs follow|
| 403 "Not routable"                                 | FAILED   | no SMSC of this gateway takes the number |
| 401/403 "Authorization failed"                     | FAILED   | our credentials are refused: the gateway |
|                                                    |          | is unusable (provider down, not sent)    |
| other 4xx                                          | FAILED   | the request is refused; nothing sent     |
| 5xx                                                | UNKNOWN  | smsbox may have queued it                |
| timeout, connection reset                          | UNKNOWN  | it may have been queued                  |
| connection refused                                 | FAILED   | nothing reached Kannel (not sent)        |

Delivery reports come back on `dlr-url` (see `webhooks.py`): Kannel fills in `%d`, the report
type (1 delivered, 2 not delivered, 4 buffered, 8 accepted by the SMSC, 16 rejected by the SMSC).
The dlr-url carries the attempt's callback token and an HMAC of it under the shared secret, so
a report cannot be forged for another attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import quote, urlencode

import aiohttp
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from notifier.channels.base import OutboundMessage, Outcome, SendResult
from notifier.domain.masking import mask_address

log = structlog.get_logger(__name__)

#: report types Kannel fills into %d; we ask for delivered, not delivered, SMSC accepted/rejected
DLR_DELIVERED, DLR_UNDELIVERED, DLR_BUFFERED, DLR_SMSC_ACCEPTED, DLR_SMSC_REJECTED = 1, 2, 4, 8, 16
DLR_MASK = DLR_DELIVERED | DLR_UNDELIVERED | DLR_SMSC_ACCEPTED | DLR_SMSC_REJECTED


class KannelSettings(BaseModel):
    """`providers.kannel` in the daemon configuration."""

    model_config = ConfigDict(extra="forbid")

    sendsms_url: str = Field("http://127.0.0.1:13013/cgi-bin/sendsms", description="smsbox sendsms URL")
    username: str = Field(description="a `sendsms-user` of smsbox")
    password: SecretStr
    secret: SecretStr = Field(description="shared secret of our /webhooks/kannel/* URLs (get-url, dlr-url)")
    sender: str | None = Field(None, description="`from` of every SMS; default: the pool's sender number")
    smsc: str | None = Field(None, description="route every SMS to this smsc-id")
    status_url: str | None = Field(
        None, description="bearerbox status page (…/status.txt?password=…) used as the health check"
    )
    timeout: float = Field(10.0, gt=0)


def sign(secret: str, token: str) -> str:
    """The authenticator of one attempt's dlr-url."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()[:32]


def gsm_safe(text: str) -> bool:
    return all(" " <= ch <= "~" or ch in "\n\r" for ch in text)


class KannelProvider:
    name = "kannel"
    channels = frozenset({"sms"})
    two_way = True

    def __init__(self, settings: KannelSettings, public_base_url: str) -> None:
        self.settings = settings
        self.public_base_url = public_base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        return self._session

    def dlr_url(self, token: str) -> str:
        secret = self.settings.secret.get_secret_value()
        return (
            f"{self.public_base_url}/webhooks/kannel/dlr?t={quote(token, safe='')}&k={sign(secret, token)}"
            "&type=%d&reply=%A&smsc_id=%F"
        )

    def params(self, msg: OutboundMessage, sender: str | None) -> dict[str, str]:
        s = self.settings
        params = {
            "username": s.username,
            "password": s.password.get_secret_value(),
            "to": msg.to,
            "text": msg.text,
            "dlr-mask": str(DLR_MASK),
            "dlr-url": self.dlr_url(msg.callback_token or msg.attempt_id),
        }
        if s.sender or sender:
            params["from"] = str(s.sender or sender)
        if s.smsc:
            params["smsc"] = s.smsc
        if not gsm_safe(msg.text):
            params.update({"coding": "2", "charset": "UTF-8"})
        if msg.validity_period_s is not None:
            params["validity"] = str(max(1, msg.validity_period_s // 60))  # minutes
        return params

    async def send(self, msg: OutboundMessage, sender: str | None) -> SendResult:
        if msg.channel != "sms":
            return SendResult(Outcome.FAILED, error_code="channel", detail="kannel sends SMS only")
        bound = log.bind(attempt_id=msg.attempt_id, to=mask_address(msg.to))
        url = f"{self.settings.sendsms_url}?{urlencode(self.params(msg, sender))}"
        try:
            async with asyncio.timeout(self.settings.timeout), self._http().get(url) as response:
                status, body = response.status, (await response.text())[:200].strip()
        except aiohttp.ClientConnectorError as exc:
            bound.warning("kannel.send_failed", reason="connect")
            return SendResult(
                Outcome.FAILED, error_code="connect", detail=f"could not connect: {exc.strerror}",
                provider_down=True, not_sent=True,
            )  # fmt: skip
        except (TimeoutError, aiohttp.ClientError) as exc:
            bound.warning("kannel.send_failed", reason=type(exc).__name__)
            return SendResult(
                Outcome.UNKNOWN, error_code="timeout" if isinstance(exc, TimeoutError) else "transport",
                detail="no answer in time; may have been queued", provider_down=True,
            )  # fmt: skip
        result = classify(status, body)
        bound.info("kannel.answer", http=status, outcome=str(result.outcome))
        return result

    async def healthy(self) -> bool:
        """The bearerbox status page answers (when configured); else smsbox answers at all."""
        url = self.settings.status_url or self.settings.sendsms_url
        try:
            async with asyncio.timeout(self.settings.timeout), self._http().get(url) as response:
                return response.status < 500 if self.settings.status_url is None else response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def classify(status: int, body: str) -> SendResult:
    """Map smsbox's answer to a send (table in the module docstring)."""
    detail = f"HTTP {status}: {body[:80]}"
    if status in (200, 202):
        return SendResult(Outcome.ACCEPTED, detail=body[:80])
    if status in (401, 403) and "authoriz" in body.lower():
        return SendResult(
            Outcome.FAILED, error_code=str(status), detail=detail, provider_down=True, not_sent=True
        )
    if 400 <= status < 500:
        return SendResult(Outcome.FAILED, error_code=str(status), detail=detail)
    return SendResult(Outcome.UNKNOWN, error_code=str(status), detail=detail, provider_down=True)
