"""Test helpers for the store: the example TAXUD plan and a migrated PlanStore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import yaml

from notifier.domain.plan import ContactMethod, Person, Plan
from notifier.store.db import make_engine, session_factory
from notifier.store.plans import PlanStore

EXAMPLE_PLAN = Path(__file__).with_name("plan_taxud.yaml")


def example_plan() -> Plan:
    return Plan.model_validate(yaml.safe_load(EXAMPLE_PLAN.read_text()))


def with_first_number(plan: Plan, person_id: str, number: str) -> Plan:
    """`plan` with the first contact method of `person_id` moved to `number`."""
    people: list[Person] = []
    for person in plan.people:
        if person.id == person_id:
            first: ContactMethod = person.contacts[0].model_copy(update={"address": number})
            person = person.model_copy(update={"contacts": (first, *person.contacts[1:])})
        people.append(person)
    return plan.model_copy(update={"people": tuple(people)})


@asynccontextmanager
async def plan_store(url: str) -> AsyncIterator[PlanStore]:
    engine = make_engine(url)
    try:
        yield PlanStore(session_factory(engine))
    finally:
        await engine.dispose()
