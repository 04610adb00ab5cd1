"""Property: export -> import gives back an equal plan, in YAML and JSON, and through the store."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings

from notifier.domain.plan import Plan
from notifier.store.plans import dump_plan, plan_digest
from tests.store.planstrategies import plans
from tests.store.storehelpers import plan_store


@settings(max_examples=200, deadline=None)
@given(plan=plans)
def test_yaml_and_json_exports_read_back_equal(plan: Plan) -> None:
    from_yaml = Plan.model_validate(yaml.safe_load(dump_plan(plan, "yaml")))
    from_json = Plan.model_validate(json.loads(dump_plan(plan, "json")))
    assert from_yaml == plan
    assert from_json == plan
    assert plan_digest(from_yaml) == plan_digest(plan)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
async def test_store_round_trip(migrated_db_url: str, plan: Plan) -> None:
    async with plan_store(migrated_db_url) as store:
        await store.import_plan(plan, author="hypothesis")
        latest = await store.latest()
        assert latest is not None
        version, stored = latest
        assert stored == plan
        for fmt in ("yaml", "json"):
            text = dump_plan(stored, fmt)
            reread = Plan.model_validate(yaml.safe_load(text) if fmt == "yaml" else json.loads(text))
            again = await store.import_plan(reread, author="hypothesis")
            assert again.version is None, again.changes
        assert (await store.latest()) == (version, plan)


def test_unicode_line_breaks_survive_yaml() -> None:
    """Found by the property above: PyYAML folds a raw NEL (U+0085) into a space on reading."""
    plan = Plan.model_validate(
        {
            "organisation": {"name": "TAXUD\x85ITSM\u2028EOS\u2029TARIC"},
            "sites": [{"id": "dc-1", "name": "#\x85:<:"}],
        }
    )
    assert Plan.model_validate(yaml.safe_load(dump_plan(plan, "yaml"))) == plan
