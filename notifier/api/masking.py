"""Masking of whole API responses for roles that may not see contact data (viewers).

The per-value rules (`+3247*****56`, `j***@example.org`) are `notifier.domain.masking`'s. This
module walks any JSON-ready structure and masks every value that is, or looks like, a phone number
or an email address, so a field added to a view later is masked too without anyone remembering to.
Values under address-like keys are masked whatever they contain (a site's postal address too).
Free text is masked with `mask_for_viewer`: numbers written with +, written the national way or
with the call prefix (0470 300 001, 0032470300001) as dialled in the organisation's region.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import phonenumbers

from notifier.domain.masking import PHONE_IN_TEXT, mask_email, mask_for_viewer, mask_phone

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


def mask_data(data: Any, region: str | None = None) -> Any:
    """A copy of `data` with contact values masked: keys named like addresses, and anything that
    looks like a number (in `region`'s ways of writing one) or an email in any string."""
    if isinstance(data, dict):
        return {
            key: mask_value(value)
            if key in _ADDRESS_KEYS and isinstance(value, str)
            else mask_data(value, region)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [mask_data(item, region) for item in data]
    if isinstance(data, str):
        return mask_for_viewer(data, region)
    return data


def plan_region(numbers: Iterable[str]) -> str | None:
    """The region of most of `numbers` (E.164): where the organisation writes numbers without +."""
    regions: Counter[str] = Counter()
    for number in numbers:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            continue
        if region and region != "ZZ":
            regions[region] += 1
    return regions.most_common(1)[0][0] if regions else None
