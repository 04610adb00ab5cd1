"""Human durations ("90s", "5m", "1h30m", "2d") as a pydantic type.

Call-tree authors are coordinators, not programmers: they write `ack_wait: 5m`, not `300`. The type
parses those strings (and plain integers as seconds) into `timedelta`, and serialises back to the
shortest such string so that export -> import is exact.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[dhms]\s*)+$")


def parse_duration(value: Any) -> timedelta:
    """Parse `5m`, `1h30m`, `45s`, `2d`, an int/float of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h30m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return timedelta(seconds=int(text))
        if _WHOLE.match(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
            return timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a duration; write it as 30s, 5m, 1h30m or 2d")


def format_duration(value: timedelta) -> str:
    """The shortest string `parse_duration` reads back to the same value."""
    total = value.total_seconds()
    if total == 0:
        return "0s"
    if total != int(total):
        return f"{total:g}s"
    seconds = int(total)
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
