"""Signing in to the console over plain HTTP (no browser), for tests of what its pages say."""

from __future__ import annotations

import re

import httpx


def csrf(html: str) -> str:
    """The CSRF token of a console page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def visible(html: str) -> str:
    """The page's text without its tags (what a reader sees, roughly)."""
    return re.sub(r"<[^>]+>", " ", html)


async def sign_in(browser: httpx.AsyncClient, token: str) -> None:
    """Sign `browser` (keeping cookies) in with an API token."""
    form = await browser.get("/console/signin")
    signed = await browser.post("/console/signin", data={"csrf": csrf(form.text), "token": token})
    assert signed.status_code == 303, signed.text[:300]
