"""Twilio webhook signatures (`X-Twilio-Signature`), computed without trusting the request URL.

Twilio signs HMAC-SHA1(auth token, URL + for each parameter name in sorted order, each of its
distinct values in sorted order: name + value), base64. The URL is the one *Twilio* called: behind
a reverse proxy that is our configured public base URL, not what the ASGI server saw, so we
rebuild it from `public_base_url` + path + query. Like Twilio's own validator we accept the URL
with and without the default port. During a token rotation both the auth token and the alternate
token are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit


def compute_signature(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """`url` as given, without its default port, and with it (Twilio signs either form)."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    port = parts.port or default
    without = urlunsplit((parts.scheme, prefix + host, parts.path, parts.query, parts.fragment))
    with_port = urlunsplit((parts.scheme, f"{prefix}{host}:{port}", parts.path, parts.query, parts.fragment))
    variants = [url]
    if port == default:
        variants += [without, with_port]
    return list(dict.fromkeys(variants))


def signature_valid(
    tokens: Iterable[str], url: str, params: Sequence[tuple[str, str]], signature: str | None
) -> bool:
    """True when `signature` matches for any of `tokens` and any URL variant."""
    if not signature:
        return False
    ok = False
    for token in tokens:
        for variant in url_variants(url):
            # Evaluate every candidate: the time taken does not depend on which one matched.
            ok |= hmac.compare_digest(compute_signature(token, variant, params).encode(), signature.encode())
    return ok


def public_url(base_url: str, path: str, query: str) -> str:
    """The URL Twilio called: the configured public base (which may carry a path prefix) + path + query."""
    url = base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url
