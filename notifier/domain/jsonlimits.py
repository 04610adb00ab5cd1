"""JSON from outside (HTTP bodies, MQTT payloads) read with bounded work, or refused with a reason.

Rules:

* The size is checked before anything else (`JsonLimits.max_bytes`): too large is refused unread.
* Nesting deeper than `max_depth` is refused with the path where it goes too deep. Python's own
  parser gives up on its own (RecursionError) around a thousand levels, so `"[" * 100000` is
  refused after reading about a thousand characters, never by exhausting the stack.
* A number written with more than `max_number_chars` characters is refused with its path, and is
  never converted (turning a 100,000-digit integer into an int costs quadratic time, and Python
  refuses more than 4,300 digits with a ValueError of its own).
* A field name longer than `max_key_chars` is refused with the (shortened) path of its object.
* Every refusal says why: status 413 (too large), 400 (not UTF-8, not JSON) or 422 (within the
  size but beyond a limit), and the problems as `path: message` lines; paths are shortened so
  that the reason itself stays small.

The work is linear in the size: one parse by the C parser, and one walk over the parsed value
that visits each value once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_MAX_PROBLEMS = 10
_PATH_CHARS = 200


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int = 1_000_000
    max_depth: int = 32
    max_number_chars: int = 40
    max_key_chars: int = 256


class JsonRejected(ValueError):
    """The input is refused; `status` is the HTTP answer, `problems` the reasons with their paths."""

    def __init__(self, status: int, problems: list[str]) -> None:
        self.status = status
        self.problems = problems
        super().__init__("; ".join(problems))


class _LongNumber:
    """What the parser produces for a number beyond the limit; the walk reports it with its path."""

    __slots__ = ("chars",)

    def __init__(self, chars: int) -> None:
        self.chars = chars


def short_key(key: str, limit: int = 40) -> str:
    """A field name as it may appear in a reason: at most `limit` characters."""
    return key if len(key) <= limit else f"{key[:limit]}...({len(key)} characters)"


def _join(path: str, key: str) -> str:
    key = short_key(key)
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    if not path:
        return "(the whole document)"
    return path if len(path) <= _PATH_CHARS else "..." + path[-_PATH_CHARS:]


def loads_bounded(raw: bytes | str, limits: JsonLimits, what: str = "body") -> Any:
    """Parse `raw` as JSON within `limits`, or raise JsonRejected (see the module rules); `what`
    names the input in the reasons ("body", "payload")."""
    size = len(raw)
    if size > limits.max_bytes:
        raise JsonRejected(413, [f"{what} is {size} bytes, more than the limit of {limits.max_bytes}"])
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonRejected(400, [f"{what} is not UTF-8 text"]) from None

    def number(chars: str, convert: Any) -> Any:
        return _LongNumber(len(chars)) if len(chars) > limits.max_number_chars else convert(chars)

    try:
        value = json.loads(
            text, parse_int=lambda s: number(s, int), parse_float=lambda s: number(s, float)
        )
    except json.JSONDecodeError as exc:
        raise JsonRejected(
            400, [f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    except RecursionError:
        too_deep = f"(the whole document): nested deeper than {limits.max_depth} levels"
        raise JsonRejected(422, [too_deep]) from None
    problems = _walk(value, limits)
    if problems:
        raise JsonRejected(422, problems)
    return value


def _walk(value: Any, limits: JsonLimits) -> list[str]:
    """Every limit broken inside `value` (at most `_MAX_PROBLEMS`), each with its path."""
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack and len(problems) < _MAX_PROBLEMS:
        item, path, depth = stack.pop()
        if isinstance(item, _LongNumber):
            problems.append(
                f"{_where(path)}: a number of {item.chars} characters"
                f" (at most {limits.max_number_chars})"
            )
        elif isinstance(item, dict | list):
            if depth >= limits.max_depth:
                problems.append(f"{_where(path)}: nested deeper than {limits.max_depth} levels")
                continue
            if isinstance(item, list):
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
                continue
            for key, child in item.items():
                if len(key) > limits.max_key_chars:
                    problems.append(
                        f"{_where(_join(path, key))}: field name of {len(key)} characters"
                        f" (at most {limits.max_key_chars})"
                    )
                else:
                    stack.append((child, _join(path, key), depth + 1))
    return problems
