"""What one planner step changed in an activation's state, as a small JSON document.

Storing the whole state after every step costs O(people) per step: at 10,000 contacts the state is
several megabytes and a broadcast takes hundreds of steps. The engine instead appends the delta of
each step to a journal and rewrites the whole state (a checkpoint) only once the journal has grown
as large as the state, so the cost per step is O(what changed), amortised.

The planner never removes nodes, cursors or attempts, and only appends to `reached` and
`dead_addresses`; the models are frozen, so a changed entry is a new object and an unchanged one is
the very object the step started from. `state_delta` relies on that identity, which makes it cheap;
anything it cannot express as an append it writes out in full, so the result is always exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from notifier.domain.plan import Model
from notifier.domain.state import ActivationState

_ENTRIES = ("nodes", "cursors", "attempts")
_APPENDED = ("reached", "dead_addresses")
_HEADER_EXCLUDE = frozenset(_ENTRIES + _APPENDED)


def state_delta(
    old: ActivationState, new: ActivationState, changed: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """A JSON-ready document that turns `old`'s JSON into `new`'s with `apply_delta`.

    `changed` (the planner's `Decision.changed`) names the entries written, so that the cost is
    O(what changed); without it every entry is compared by identity. New entries come in the new
    state's order either way, so replaying keeps every dict's order, and with it every decision the
    planner takes by iterating them.
    """
    delta: dict[str, Any] = {"header": new.model_dump(mode="json", exclude=set(_HEADER_EXCLUDE))}
    for name in _ENTRIES:
        before: Mapping[str, Model] = getattr(old, name)
        after: Mapping[str, Model] = getattr(new, name)
        keys = changed[name] if changed is not None and name in changed else after
        entries = {key: after[key] for key in keys}
        written = {
            key: value.model_dump(mode="json")
            for key, value in entries.items()
            if before.get(key) is not value
        }
        if written:
            delta[name] = written
    for name in _APPENDED:
        before_items: tuple[str, ...] = getattr(old, name)
        after_items: tuple[str, ...] = getattr(new, name)
        if after_items[: len(before_items)] == before_items:
            if len(after_items) > len(before_items):
                delta[name] = list(after_items[len(before_items) :])
        else:
            delta[f"{name}!"] = list(after_items)  # not an append: replace the whole list
    return delta


def apply_delta(document: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Apply one `state_delta` result to a state's JSON document, in place."""
    document.update(delta["header"])
    for name in _ENTRIES:
        if name in delta:
            document.setdefault(name, {}).update(delta[name])
    for name in _APPENDED:
        if f"{name}!" in delta:
            document[name] = list(delta[f"{name}!"])
        elif name in delta:
            document[name] = [*document.get(name, ()), *delta[name]]


def delta_size(delta: Mapping[str, Any]) -> int:
    """How many entries a delta carries: the journal is checkpointed by this measure."""
    entries = sum(len(delta.get(name, ())) for name in _ENTRIES)
    appended = sum(len(delta.get(name, ())) + len(delta.get(f"{name}!", ())) for name in _APPENDED)
    return 1 + entries + appended


def state_size(state: ActivationState) -> int:
    """The same measure for a whole state."""
    return 1 + sum(len(getattr(state, name)) for name in (*_ENTRIES, *_APPENDED))
