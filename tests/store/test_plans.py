"""PlanStore on SQLite and PostgreSQL: versions, no-op imports, the record of changes."""

from __future__ import annotations

import pytest

from notifier.domain.plandiff import ChangeKind, EntityKind
from notifier.store.plans import VersionNotFound
from tests.store.storehelpers import example_plan, plan_store, with_first_number


async def test_empty_store_has_no_latest_version(migrated_db_url: str) -> None:
    async with plan_store(migrated_db_url) as store:
        assert await store.latest() is None
        assert await store.versions() == []


async def test_first_import_is_version_1_with_every_entity_added(migrated_db_url: str) -> None:
    plan = example_plan()
    async with plan_store(migrated_db_url) as store:
        result = await store.import_plan(plan, author="ana-novak", comment="initial plan")
        assert result.version == 1
        added = {(c.entity, c.entity_id) for c in result.changes if c.kind is ChangeKind.ADDED}
        assert (EntityKind.SERVICE, "SEED") in added
        assert (EntityKind.ROLE, "iscp-coordinator") in added
        assert len(added) == 1 + 3 + 2 + 1 + 3 + 1 + 1  # organisation + entities
        assert await store.latest() == (1, plan)
        assert await store.get(1) == plan
        stored = await store.changes(1)
        assert stored == result.changes


async def test_changed_number_makes_version_2_and_names_the_change(migrated_db_url: str) -> None:
    plan = example_plan()
    moved = with_first_number(plan, "jan-peeters", "+32470123456")
    async with plan_store(migrated_db_url) as store:
        await store.import_plan(plan, author="ana-novak", comment="initial plan")
        result = await store.import_plan(moved, author="jan-peeters", comment="new mobile")
        assert result.version == 2
        assert [str(c) for c in result.changes] == ["person jan-peeters: contacts[0].address changed"]
        assert result.changes[0].old == "+32450001234"
        assert result.changes[0].new == "+32470123456"
        assert await store.changes(2) == result.changes
        assert await store.get(1) == plan
        assert await store.latest() == (2, moved)
        versions = await store.versions()
        assert [(v.version, v.author, v.comment, v.change_count) for v in versions] == [
            (1, "ana-novak", "initial plan", 12),
            (2, "jan-peeters", "new mobile", 1),
        ]
        assert all(v.created_at.tzinfo is not None for v in versions)
        assert versions[0].digest != versions[1].digest


async def test_unchanged_import_writes_nothing(migrated_db_url: str) -> None:
    async with plan_store(migrated_db_url) as store:
        assert (await store.import_plan(example_plan(), author="ana-novak")).version == 1
        again = await store.import_plan(example_plan(), author="someone-else", comment="re-run")
        assert again.version is None and again.changes == []
        assert [v.version for v in await store.versions()] == [1]


async def test_reordered_services_are_a_new_version_recording_the_order(migrated_db_url: str) -> None:
    plan = example_plan()
    reordered = plan.model_copy(update={"services": tuple(reversed(plan.services))})
    async with plan_store(migrated_db_url) as store:
        await store.import_plan(plan, author="ana-novak")
        result = await store.import_plan(reordered, author="ana-novak")
        assert result.version == 2
        assert [str(c) for c in result.changes] == ["plan services: order changed"]
        assert await store.get(2) == reordered


async def test_unknown_version_is_an_error(migrated_db_url: str) -> None:
    async with plan_store(migrated_db_url) as store:
        await store.import_plan(example_plan(), author="ana-novak")
        with pytest.raises(VersionNotFound, match="plan version 7 does not exist"):
            await store.get(7)
        with pytest.raises(VersionNotFound):
            await store.changes(7)


async def test_concurrent_imports_get_distinct_versions(migrated_db_url: str) -> None:
    import asyncio

    plan = example_plan()
    variants = [
        with_first_number(plan, "ana-novak", n) for n in ("+38640123456", "+38641123456", "+38651123456")
    ]
    async with plan_store(migrated_db_url) as store:
        await store.import_plan(plan, author="ana-novak")
        results = await asyncio.gather(*(store.import_plan(v, author="ana-novak") for v in variants))
        assert sorted(r.version for r in results if r.version) == [2, 3, 4]
        assert [v.version for v in await store.versions()] == [1, 2, 3, 4]
