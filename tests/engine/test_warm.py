"""Start-up prepares every tree's start: its snapshot compiled and its stored document encoded once,
so that the start call of a large broadcast does neither (issue 19: first SMS within 1 s)."""

from __future__ import annotations

from pathlib import Path

from notifier.domain.calltree import ActivationKind
from tests.engine.conftest import running_system


async def test_start_compiles_and_encodes_every_tree_once(tmp_path: Path) -> None:
    async with running_system(tmp_path) as runtime:
        engine = runtime.engine
        assert engine is not None
        cache = engine._snapshots
        encoded = dict(cache._documents)  # what start-up encoded, before any start call
        trees = [tree.id for tree in engine.config.trees.calltrees]
        assert len(encoded) == len(trees) > 1
        for tree_id in trees:
            snapshot = engine.prepare(tree_id, ActivationKind.INCIDENT)
            assert cache.document(snapshot) is encoded[id(snapshot)][1]
        await engine.activate(trees[0], started_by="test")
        assert dict(cache._documents) == encoded  # the start call encoded nothing new
