"""Masking of whole API responses for roles that may not see contact data (viewers).

The per-value rules (`+3247*****56`, `j***@example.org`) are `notifier.domain.masking`'s. This
module walks any JSON-ready structure and masks every value that is, or looks like, a phone number
or an email address, so a field added to a view later is masked too without anyone remembering to.
Values under address-like keys are masked whatever they contain (a site's postal address too).
"""

from __future__ import annotations

import re
from typing import Any

from notifier.domain.masking import mask_email, mask_phone

# Plan numbers are E.164, so a leading + tells a number from a date such as 2026-03-02; spaces and
# punctuation are allowed because free text (a reason, a report) may write "+32 471 23 45 56".
_PHONE = re.compile(r"\+\d[\d\s().\-]{5,}\d")
_EMAIL = re.compile(r"[^@\s<>\"'(),;:]+@[^@\s<>\"'(),;:]+")
_ADDRESS_KEYS = frozenset({"address", "to", "from", "from_", "phone", "email", "number"})


def _phone(text: str) -> str:
    return mask_phone("+" + re.sub(r"\D", "", text))


def mask_value(value: str) -> str:
    """Mask a phone number or email address; any other text under an address key is hidden."""
    stripped = value.strip()
    if "@" in stripped:
        return mask_email(stripped)
    if _PHONE.fullmatch(stripped):
        return _phone(stripped)
    return "***" if value else value


def mask_text(text: str) -> str:
    """Mask every phone number and email address found inside free text."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: _phone(m.group(0)), text)


def mask_data(data: Any) -> Any:
    """A copy of `data` with contact values masked: keys named like addresses, and anything that
    looks like a number or an email in any string."""
    if isinstance(data, dict):
        return {
            key: mask_value(value) if key in _ADDRESS_KEYS and isinstance(value, str) else mask_data(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [mask_data(item) for item in data]
    if isinstance(data, str):
        return mask_text(data)
    return data
