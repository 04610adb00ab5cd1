"""What changed between two versions of the plan: the record of changes NIST §3.6 asks for.

Entities (people, roles, teams, services, vendors, sites) are matched by id, so a reordered list
is not mistaken for edits; within an entity the JSON forms are compared field by field, so a new
phone number shows up as `person ana-novak: contacts[0].address changed`. Values are kept in full
(the store holds real data) but `describe()` masks anything that looks like a phone number or an
email address, because descriptions end up on terminals and in logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from notifier.domain.plan import Plan

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
Keyed: TypeAlias = dict[str, dict[str, Json]]


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class EntityKind(StrEnum):
    ORGANISATION = "organisation"
    PERSON = "person"
    ROLE = "role"
    TEAM = "team"
    SERVICE = "service"
    VENDOR = "vendor"
    SITE = "site"
    PLAN = "plan"  # the plan as a whole: the order of a collection changed


COLLECTIONS: dict[EntityKind, str] = {
    EntityKind.PERSON: "people",
    EntityKind.ROLE: "roles",
    EntityKind.TEAM: "teams",
    EntityKind.SERVICE: "services",
    EntityKind.VENDOR: "vendors",
    EntityKind.SITE: "sites",
}


@dataclass(frozen=True)
class Change:
    """One line of the record of changes. `field` is a path such as `contacts[0].address`."""

    kind: ChangeKind
    entity: EntityKind
    entity_id: str
    field: str = ""
    old: Json = None
    new: Json = None

    def __str__(self) -> str:
        subject = f"{self.entity} {self.entity_id}" if self.entity_id else str(self.entity)
        return f"{subject}: {self.field} {self.kind}" if self.field else f"{subject} {self.kind}"

    def describe(self) -> str:
        """The line for people: what changed, with values masked where they are contact data."""
        if self.kind is ChangeKind.CHANGED and _is_scalar(self.old) and _is_scalar(self.new):
            return f"{self}: {_show(self.old)} -> {_show(self.new)}"
        return str(self)


def diff_plans(old: Plan | None, new: Plan) -> list[Change]:
    """Every change from `old` to `new`; with no `old`, every entity is `added`."""
    new_json = new.model_dump(mode="json")
    if old is None:
        changes = [Change(ChangeKind.ADDED, EntityKind.ORGANISATION, "", new=new_json["organisation"])]
        for entity, collection in COLLECTIONS.items():
            changes += _collection_changes(entity, [], new_json[collection])
        return changes
    old_json = old.model_dump(mode="json")
    changes = [
        Change(ChangeKind.CHANGED, EntityKind.ORGANISATION, "", path, before, after)
        for path, before, after in _field_changes(old_json["organisation"], new_json["organisation"], "")
    ]
    for entity, collection in COLLECTIONS.items():
        changes += _collection_changes(entity, old_json[collection], new_json[collection])
        order = _order_change(collection, _keyed(old_json[collection]), _keyed(new_json[collection]))
        changes += [order] if order else []
    return changes


def _order_change(collection: str, old: Keyed, new: Keyed) -> Change | None:
    """Entities kept in both versions but listed in another order (export shows the new order)."""
    kept_old: list[Json] = [key for key in old if key in new]
    kept_new: list[Json] = [key for key in new if key in old]
    if kept_old == kept_new:
        return None
    return Change(ChangeKind.CHANGED, EntityKind.PLAN, collection, "order", kept_old, kept_new)


def _keyed(items: list[dict[str, Json]]) -> Keyed:
    """Items by id; a repeated id (an invalid plan, but storable) gets `#2`, `#3` appended."""
    keyed: Keyed = {}
    for item in items:
        key, n = str(item["id"]), 1
        while key in keyed:
            n += 1
            key = f"{item['id']}#{n}"
        keyed[key] = item
    return keyed


def _collection_changes(
    entity: EntityKind, old: list[dict[str, Json]], new: list[dict[str, Json]]
) -> list[Change]:
    before, after = _keyed(old), _keyed(new)
    changes = [
        Change(ChangeKind.REMOVED, entity, key, old=item) for key, item in before.items() if key not in after
    ]
    for key, item in after.items():
        if key not in before:
            changes.append(Change(ChangeKind.ADDED, entity, key, new=item))
            continue
        for path, old_value, new_value in _field_changes(before[key], item, ""):
            changes.append(Change(ChangeKind.CHANGED, entity, key, path, old_value, new_value))
    return changes


def _field_changes(old: Json, new: Json, path: str) -> list[tuple[str, Json, Json]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[tuple[str, Json, Json]] = []
        for key in [*old, *(k for k in new if k not in old)]:
            child = f"{path}.{key}" if path else key
            found += _field_changes(old.get(key), new.get(key), child)
        return found
    if isinstance(old, list) and isinstance(new, list):
        # Index by index; items past the shorter list show as added (old None) or removed (new None).
        longest = max(len(old), len(new))
        padded_old = old + [None] * (longest - len(old))
        padded_new = new + [None] * (longest - len(new))
        return [
            found
            for i, (a, b) in enumerate(zip(padded_old, padded_new, strict=True))
            for found in _field_changes(a, b, f"{path}[{i}]")
        ]
    if old == new and type(old) is type(new):
        return []
    return [(path, old, new)]


def _is_scalar(value: Json) -> bool:
    return not isinstance(value, Sequence | Mapping) or isinstance(value, str)


_PHONE = re.compile(r"^\+\d{6,}$")
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+)$")


def mask(value: str) -> str:
    """`+32471234556` -> `+3247*****56`, `jane@example.org` -> `j***@example.org`, else unchanged."""
    if _PHONE.match(value):
        return value[:5] + "*" * (len(value) - 7) + value[-2:]
    email = _EMAIL.match(value)
    if email:
        return f"{email.group(1)[:1]}***@{email.group(2)}"
    return value


def _show(value: Json) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return repr(mask(value))
    return str(value)
