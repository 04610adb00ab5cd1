"""Signed, expiring tokens for email acknowledgement links.

`<attempt id, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`: the link names the
attempt it answers and cannot be altered or extended without the daemon's secret key. Pure (no
web framework) so the engine can mint links when it renders an email.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime


class AckTokenInvalid(ValueError):
    """The token is malformed or its signature does not match: forged or altered."""


class AckTokenExpired(ValueError):
    """The token is genuine but past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str | bytes, attempt_id: str, expires: int) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"ack\x1f{attempt_id}\x1f{expires}".encode(), hashlib.sha256).digest()


def make_ack_token(secret: str | bytes, attempt_id: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{_b64(attempt_id.encode())}.{expires}.{_b64(_mac(secret, attempt_id, expires))}"


def verify_ack_token(secret: str | bytes, token: str, now: datetime | None = None) -> str:
    """The attempt id the token was made for; raise AckTokenInvalid or AckTokenExpired."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 512 or not parts[1].isdigit():
        raise AckTokenInvalid("malformed acknowledgement link")
    try:
        attempt_id = _unb64(parts[0]).decode()
        signature = _unb64(parts[2])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AckTokenInvalid("malformed acknowledgement link") from None
    expires = int(parts[1])
    if not hmac.compare_digest(signature, _mac(secret, attempt_id, expires)):
        raise AckTokenInvalid("acknowledgement link signature does not match")
    current = now or datetime.now(UTC)
    if current.timestamp() >= expires:
        raise AckTokenExpired("acknowledgement link has expired")
    return attempt_id
