"""Compiled snapshots of the current configuration, kept while it stays current.

Compiling a call tree against the plan (`domain/snapshot.py`) is a pure function of the plan, the
trees, the tree id, the kind and the policy, and it was most of an activation's own CPU time: at
a storm's rate every alert of a route compiled the same snapshot again, and dumped it to JSON
again. The cache holds one compiled snapshot (and its JSON document) per key for the `Config`
object it was compiled from; a reload installs a new `Config` and the cache starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifier.domain.snapshot import Snapshot
from notifier.store.db import EncodedJSON


class SnapshotCache:
    def __init__(self) -> None:
        self._config: object | None = None
        self._compiled: dict[tuple[Any, ...], Snapshot] = {}
        # JSON documents by snapshot identity; the snapshot is kept beside it so its id stays its own
        self._documents: dict[int, tuple[Snapshot, EncodedJSON]] = {}

    def get(self, config: object, key: tuple[Any, ...], compile_: Callable[[], Snapshot]) -> Snapshot:
        """The snapshot for `key` compiled from `config` (compiled now if it is not cached; a
        compilation that fails raises every time and is not cached)."""
        if config is not self._config:
            self._config, self._compiled, self._documents = config, {}, {}
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = compile_()
        return found

    def document(self, snapshot: Snapshot) -> EncodedJSON:
        """`snapshot` as stored, encoded once per cached snapshot. JSON text encoded by pydantic: a
        50,000-person snapshot encodes in a fraction of `model_dump` + `json.dumps`'s seconds, and
        is kept as one string instead of some hundred thousand dicts."""
        kept = self._documents.get(id(snapshot))
        if kept is not None and kept[0] is snapshot:
            return kept[1]
        document = EncodedJSON(snapshot.model_dump_json())
        if any(snapshot is cached for cached in self._compiled.values()):
            self._documents[id(snapshot)] = (snapshot, document)
        return document
