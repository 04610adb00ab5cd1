"""Masking of whole API responses for roles that may not see contact data (viewers).

The per-value rules (`+3247*****56`, `j***@example.org`) are `notifier.domain.masking`'s. This
module walks any JSON-ready structure and masks every value that is, or looks like, a phone number
or an email address, so a field added to a view later is masked too without anyone remembering to.
Values under address-like keys are masked whatever they contain (a site's postal address too).
"""

from __future__ import annotations

import re
from typing import Any

from notifier.domain.masking import PHONE_IN_TEXT, mask_email, mask_phone, mask_text

_ADDRESS_KEYS = frozenset({"address", "to", "from", "from_", "phone", "email", "number"})


def _phone(text: str) -> str:
    return mask_phone("+" + re.sub(r"\D", "", text))


def mask_value(value: str) -> str:
    """Mask a phone number or email address; any other text under an address key is hidden."""
    stripped = value.strip()
    if "@" in stripped:
        return mask_email(stripped)
    if PHONE_IN_TEXT.fullmatch(stripped):
        return _phone(stripped)
    return "***" if value else value


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
