"""Console sessions: a signed, expiring cookie naming an API token, and the CSRF tokens of its forms.

Signing in exchanges an API token for a session. The cookie holds no secret that works anywhere
else: `<payload, base64url JSON>.<HMAC-SHA256, base64url>` with the token's *id* (never the token),
a random session id and the expiry. Every request re-reads the token record by id, so revoking
the API token ends its console sessions at once, and a role change applies on the next click.

CSRF: each form carries `HMAC(key, "csrf", session id)`; a POST without it (or with another
session's) is refused, whatever its Origin. The cookie is also SameSite=Strict and HttpOnly. The
sign-in form, which has no session yet, is bound the same way to a short-lived pre-session cookie.

Sessions expire by wall-clock time (not the engine's clock, which tests run fast-forward). Pure:
no web framework, so the rules are unit-tested directly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "notifier_console"
PRESESSION_COOKIE = "notifier_console_signin"
SESSION_SECONDS = 8 * 3600  # a working shift; signing in again takes one paste
PRESESSION_SECONDS = 1800


class SessionInvalid(ValueError):
    """Malformed, forged, altered or expired."""


@dataclass(frozen=True)
class Session:
    token_id: int
    sid: str
    expires: int  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks session cookies and CSRF tokens with a key derived from the daemon's secret
    (so a console cookie can never pass as an email acknowledgement link, or the reverse)."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hmac.new(raw, b"notifier console session v1", hashlib.sha256).digest()

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}\x1f{text}".encode(), hashlib.sha256).digest())

    def issue(self, token_id: int, now: float, lifetime: int = SESSION_SECONDS) -> tuple[Session, str]:
        """A new session for `token_id` and its cookie value."""
        session = Session(token_id=token_id, sid=secrets.token_urlsafe(16), expires=int(now) + lifetime)
        payload = _b64(json.dumps({"t": session.token_id, "s": session.sid, "e": session.expires}).encode())
        return session, f"{payload}.{self._mac('session', payload)}"

    def read(self, cookie: str, now: float) -> Session:
        """The session a cookie carries; raise SessionInvalid."""
        payload, _, signature = cookie.partition(".")
        if not payload or not signature or len(cookie) > 512:
            raise SessionInvalid("malformed session")
        if not hmac.compare_digest(signature, self._mac("session", payload)):
            raise SessionInvalid("session signature does not match")
        try:
            data = json.loads(_unb64(payload))
            session = Session(token_id=int(data["t"]), sid=str(data["s"]), expires=int(data["e"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise SessionInvalid("malformed session") from None
        if now >= session.expires:
            raise SessionInvalid("session expired")
        return session

    def csrf(self, sid: str) -> str:
        """The CSRF token of the forms of session `sid` (or of a pre-session id)."""
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf(sid))

    @staticmethod
    def new_presession() -> str:
        return secrets.token_urlsafe(16)
