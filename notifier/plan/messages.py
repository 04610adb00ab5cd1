"""Pydantic's validation errors, reworded for the coordinators who edit plan files.

"Extra inputs are not permitted" does not tell a continuity manager what to do; "unknown field
'emial' (allowed: ...); did you mean 'email'?" does. Values are echoed only when they help and
never in full when they look like a phone number or an email address (personal data).
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from notifier.domain.references import close_match
from notifier.plan.problems import FieldPath, mask_address

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_PERSONAL = re.compile(r"^\+?[\d\s().\-]{6,}$")


def describe(error: ErrorDetails, model: type[BaseModel]) -> tuple[FieldPath, str]:
    """The cleaned field path (relative to `model`) and a message a coordinator understands."""
    loc: FieldPath = tuple(part for part in error["loc"] if part != "[key]")
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    field = next((p for p in reversed(loc) if isinstance(p, str)), "")
    shown = _show(value, field)
    if kind == "extra_forbidden":
        return loc, _unknown_field(model, loc)
    if kind == "missing":
        return loc, "required field is missing"
    if kind in ("value_error", "assertion_error"):
        return loc, str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "")
        return loc, f"{shown} is not allowed here; use one of: {expected.replace(' or ', ', ')}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == _ID_PATTERN:
            return loc, (
                f"{shown} is not a valid id: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit, no spaces"
            )
        if field == "language":
            return loc, f"{shown} is not a language code such as en, fr or fr-BE"
        return loc, f"{shown} does not have the expected form ({ctx.get('pattern')})"
    if kind == "string_type" and field == "address" and isinstance(value, int | float):
        return loc, "a phone number must be text: write it in quotes as '+<country code><number>'"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return loc, "needs at least one entry"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return loc, simple.format(shown=shown, got=_kind_of(value), **ctx)
    message = error["msg"]
    return loc, message[:1].lower() + message[1:]


_SIMPLE = {
    "string_too_short": "must not be empty",
    "string_too_long": "is longer than {max_length} characters",
    "too_short": "needs at least {min_length} entries, got {actual_length}",
    "too_long": "allows at most {max_length} entries",
    "string_type": "expected text, got {got}",
    "int_type": "expected a whole number, got {got}",
    "int_parsing": "expected a whole number, got {shown}",
    "int_from_float": "expected a whole number, got {shown}",
    "float_type": "expected a number, got {got}",
    "float_parsing": "expected a number, got {shown}",
    "bool_type": "expected true or false, got {got}",
    "bool_parsing": "expected true or false, got {shown}",
    "model_type": "expected a mapping of fields (name: value lines), got {got}",
    "model_attributes_type": "expected a mapping of fields (name: value lines), got {got}",
    "dict_type": "expected a mapping (name: value lines), got {got}",
    "tuple_type": "expected a list (lines starting with '- '), got {got}",
    "list_type": "expected a list (lines starting with '- '), got {got}",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "time_type": "expected a time of day such as 08:00, got {got}",
    "time_parsing": "expected a time of day such as 08:00, got {shown}",
    "date_type": "expected a date such as 2024-03-31, got {got}",
    "date_parsing": "expected a date such as 2024-03-31, got {shown}",
    "date_from_datetime_parsing": "expected a date such as 2024-03-31, got {shown}",
    "date_from_datetime_inexact": "expected a date without a time of day, got {shown}",
}


def _kind_of(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: Any, field: str) -> str:
    """A short, safe rendering of an input value for a message."""
    if isinstance(value, dict | list | tuple) or value is None:
        return _kind_of(value)
    text = str(value)
    if field == "address" or "@" in text or _PERSONAL.match(text):
        text = mask_address(text)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"'{text}'"


def _unknown_field(model: type[BaseModel], loc: FieldPath) -> str:
    name = str(loc[-1]) if loc else "?"
    owner = model_at(model, loc[:-1])
    if owner is None:
        return f"unknown field '{name}'"
    allowed = list(owner.model_fields)
    message = f"unknown field '{name}' (allowed: {', '.join(allowed)})"
    hint = close_match(name, allowed)
    return message + (f"; did you mean '{hint}'?" if hint else "")


def model_at(model: type[BaseModel], loc: FieldPath) -> type[BaseModel] | None:
    """The pydantic model that validates the value at `loc` under `model`, if any."""
    current: Any = model
    for part in loc:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
            continue
        origin, args = get_origin(current), get_args(current)
        if origin in (tuple, list) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return None
    current = _strip(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip(annotation: Any) -> Any:
    """Remove Annotated[...] and `X | None` wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
