"""Masking of personal contact data for logs and for roles that may not see it (DESIGN §6).

Phone numbers keep the country code and the last two digits (`+3247*****56`): enough for an
operator to tell two numbers apart, not enough to call anyone. Email addresses keep the first
letter and the domain (`j***@example.org`).
"""

from __future__ import annotations

import re

# Plan numbers are E.164, so a leading + tells a number from a date such as 2026-03-02; spaces and
# punctuation are allowed because free text (a reason, a report, a reply) may write "+32 471 23 45 56".
PHONE_IN_TEXT = re.compile(r"\+\d[\d\s().\-]{5,}\d")
EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"'(),;:]+@[^@\s<>\"'(),;:]+")


def mask_phone(number: str) -> str:
    digits = number.lstrip("+")
    if len(digits) <= 4:
        return "+" + "*" * len(digits)
    keep_head = min(4, len(digits) - 4)
    return "+" + digits[:keep_head] + "*" * (len(digits) - keep_head - 2) + digits[-2:]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return (local[:1] or "*") + "***@" + domain


def mask_address(address: str) -> str:
    """Mask a phone number or an email address; anything else is returned unchanged."""
    if "@" in address:
        return mask_email(address)
    if address.startswith("+"):
        return mask_phone(address)
    return address


def mask_text(text: str) -> str:
    """Mask every phone number and email address inside free text (log lines, errors)."""
    text = EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)
    return PHONE_IN_TEXT.sub(lambda m: mask_phone("+" + re.sub(r"\D", "", m.group(0))), text)
