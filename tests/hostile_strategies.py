"""Hypothesis strategies for hostile JSON, shared by the HTTP and MQTT fuzz tests (issue 13).

The project's first fuzz strategies (`st.recursive(..., max_size=4)`) only made shallow JSON with
small values, so none of issue 13's findings could appear. These make what an attacker sends:
nesting far beyond any limit (as raw text: a parsed value that deep cannot even be built by
`json.dumps`), numbers of thousands of digits, very long strings and field names, and objects with
very many keys, each placed somewhere inside an otherwise valid body.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

PLACEHOLDER = '"__hostile__"'


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Arrays or objects nested 33 to 60,000 deep, closed or not."""
    depth = draw(st.integers(33, 60_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
    inner = draw(st.sampled_from(["1", "null", '"x"', ""]))
    closed = draw(st.booleans())
    return opener * depth + inner + (closer * depth if closed else "")


@st.composite
def huge_number(draw: st.DrawFn) -> str:
    digits = draw(st.integers(41, 100_000))
    sign = draw(st.sampled_from(["", "-"]))
    tail = draw(st.sampled_from(["", ".5", "e5", ".0e-99999"]))
    return sign + "9" * digits + tail


@st.composite
def long_string(draw: st.DrawFn) -> str:
    size = draw(st.integers(1_000, 300_000))
    char = draw(st.sampled_from(["I", "a@", "+1 ", "0", "0470 300 001 ", "é", "\n", "\x00"]))
    return json.dumps(char * (size // len(char)), ensure_ascii=draw(st.booleans()))


@st.composite
def long_key(draw: st.DrawFn) -> str:
    size = draw(st.integers(257, 300_000))
    return "{" + json.dumps("k" * size) + ': "1"}'


@st.composite
def many_keys(draw: st.DrawFn) -> str:
    count = draw(st.integers(51, 60_000))
    return json.dumps({f"k{i}": "v" for i in range(count)})


def hostile_fragment() -> st.SearchStrategy[str]:
    """One hostile JSON value, as text."""
    return deep_nesting() | huge_number() | long_string() | long_key() | many_keys()


@st.composite
def hostile_body(draw: st.DrawFn, valid: dict[str, Any]) -> str:
    """`valid` (a JSON object) with one hostile value put in place of one of its values, added as
    a new field, or as the whole body."""
    fragment = draw(hostile_fragment())
    where = draw(st.sampled_from(["whole", "new field", *_paths(valid)]))
    if where == "whole":
        return fragment
    body = json.loads(json.dumps(valid))
    if where == "new field":
        body["extra"] = "__hostile__"
    else:
        target = body
        *parents, last = where.split("/")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = "__hostile__"
        else:
            target[last] = "__hostile__"
    return json.dumps(body).replace(PLACEHOLDER, fragment, 1)


def _paths(value: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        path = f"{prefix}{key}"
        out.append(path)
        out += _paths(child, path + "/")
    return out
