"""Console sessions and CSRF tokens, as rules (pure: no daemon, no browser)."""

from __future__ import annotations

import pytest

from notifier.console.session import SESSION_SECONDS, SessionInvalid, SessionSigner

NOW = 1_780_000_000.0


def test_a_session_names_the_token_id_never_the_token_and_reads_back() -> None:
    signer = SessionSigner("secret")
    session, cookie = signer.issue(7, NOW)
    assert "ntk_" not in cookie
    assert signer.read(cookie, NOW + 1) == session
    assert session.expires == int(NOW) + SESSION_SECONDS


def test_an_expired_session_is_refused() -> None:
    signer = SessionSigner("secret")
    _session, cookie = signer.issue(7, NOW, lifetime=60)
    with pytest.raises(SessionInvalid, match="expired"):
        signer.read(cookie, NOW + 60)


def test_an_altered_or_foreign_cookie_is_refused() -> None:
    signer = SessionSigner("secret")
    _session, cookie = signer.issue(7, NOW)
    payload, _, signature = cookie.partition(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for bad in (f"{forged_payload}.{signature}", cookie + "x", "", "no-dot", "a" * 600):
        with pytest.raises(SessionInvalid):
            signer.read(bad, NOW)
    with pytest.raises(SessionInvalid):
        SessionSigner("another daemon's secret").read(cookie, NOW)


def test_csrf_tokens_are_bound_to_their_session() -> None:
    signer = SessionSigner("secret")
    one, _ = signer.issue(7, NOW)
    two, _ = signer.issue(7, NOW)
    assert signer.csrf_ok(one.sid, signer.csrf(one.sid))
    assert not signer.csrf_ok(one.sid, signer.csrf(two.sid))
    assert not signer.csrf_ok(one.sid, None)
    assert not signer.csrf_ok(one.sid, "")


def test_session_keys_differ_from_the_secret_itself() -> None:
    # a console CSRF token is not an HMAC under the raw secret (so not an ack-link signature)
    import hashlib
    import hmac

    signer = SessionSigner("secret")
    raw = hmac.new(b"secret", b"csrf\x1fabc", hashlib.sha256).hexdigest()
    assert signer.csrf("abc") != raw
