"""What the sandbox saw and did, kept in memory for assertions and the `/sandbox/*` JSON view."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

API_VERSION = "2010-04-01"
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment)


@lru_cache(maxsize=256)  # a broadcast sends one body to thousands and counts it twice for each
def num_segments(body: str) -> int:
    """Billed SMS segments: 160/153 GSM-7 septets, else 70/67 UCS-2 characters."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


@dataclass
class RawRequest:
    """One REST request as received, for duplicate counting and fault tests."""

    method: str
    path: str
    form: dict[str, list[str]]
    status: int
    at: datetime


@dataclass
class Callback:
    """A webhook the sandbox posted (status callback, inbound SMS, TwiML fetch, gather action)."""

    kind: str
    url: str
    params: dict[str, Any]
    status: int | None
    body: str = ""
    at: datetime | None = None


@dataclass
class SentMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status: str
    created_at: datetime
    updated_at: datetime
    status_callback: str | None = None
    messaging_service_sid: str | None = None
    validity_period: int | None = None
    error_code: int | None = None
    sent_at: datetime | None = None
    callbacks: list[Callback] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        """The Message resource JSON as Twilio returns it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_at),
            "date_sent": rfc2822(self.sent_at) if self.sent_at else None,
            "date_updated": rfc2822(self.updated_at),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_ or None,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(num_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


@dataclass
class PlacedCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    twiml: str | None
    method: str
    status: str
    created_at: datetime
    updated_at: datetime
    status_callback: str | None = None
    status_callback_events: list[str] = field(default_factory=lambda: ["completed"])
    machine_detection: str | None = None
    timeout: int = 60
    answered_by: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    said: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    digits_sent: list[str] = field(default_factory=list)
    finished: bool = False
    callbacks: list[Callback] = field(default_factory=list)

    @property
    def transcript(self) -> str:
        return " ".join(self.said)

    def duration(self) -> int | None:
        if self.start_time and self.end_time:
            return int((self.end_time - self.start_time).total_seconds())
        return None

    def resource(self) -> dict[str, Any]:
        """The Call resource JSON as Twilio returns it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        duration = self.duration()
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at),
            "direction": "outbound-api",
            "duration": str(duration) if duration is not None else None,
            "end_time": rfc2822(self.end_time) if self.end_time else None,
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time) if self.start_time else None,
            "status": self.status,
            "subresource_uris": {"recordings": uri.replace(".json", "/Recordings.json")},
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": uri,
        }


@dataclass
class ReceivedEmail:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    received_at: datetime
    clicks: list[Callback] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """All text parts joined (plain first), for regex matching of links and content."""
        parts = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                parts.append(str(part.get_content()))
        return "\n".join(parts)
