"""`X-Twilio-Signature` exactly as Twilio computes it, so the daemon's webhook checks are tested for real.

HMAC-SHA1 keyed with the auth token over the full URL followed by every POST parameter name and
value, names sorted (and, for a repeated name, its values sorted), base64-encoded. Written from the
algorithm rather than borrowed from `twilio.request_validator` so the tests that check our
signatures with `RequestValidator` compare two independent implementations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str | Sequence[str]]


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def sign(auth_token: str, url: str, params: Params) -> str:
    """The signature Twilio sends with a form POST of `params` to `url`."""
    payload = url
    for name in sorted(params):
        for value in sorted(set(_values(params[name]))):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def form_items(params: Params) -> list[tuple[str, str]]:
    """Flatten `params` to form items, repeating a key for each of its values."""
    return [(name, value) for name, raw in params.items() for value in _values(raw)]
