"""Issue 15 acceptance, end to end on the sandbox: an `invoke: ask` route (tier2-critical in
calltrees/routes.yaml) asks the ISCP Director (config/plan.yaml organisation.invocation) before the
crisis tree starts. 1 starts it (recording who invoked), 2 records standing by and tells the
coordinator, silence moves to the successor and then to the coordinator; all in the reports."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from notifier.domain.alerts import parse_native
from notifier.runtime import Runtime
from tests.engine.conftest import running_system
from tests.waiting import until

# the mobiles of Aline Verhoeven (ISCP Director), Tomasz Kowalczyk (successor), the coordinator
DIRECTOR, SUCCESSOR, COORDINATOR = "+32470990101", "+32470990102", "+32470990103"
ASKED = "Reply 1 to invoke the continuity plan, 2 to stand by"


async def _alert(rt: Runtime, key: str) -> str:
    body = {"service": "TARIC", "severity": "critical", "summary": "TARIC tariff lookups failing"}
    alert = parse_native({**body, "dedup_key": key})
    [receipt] = await rt.service.submit_alerts([alert])  # type: ignore[union-attr]
    assert receipt.status == "started" and receipt.route == "tier2-critical", receipt
    assert receipt.activation_id is not None
    return receipt.activation_id


async def _views(rt: Runtime) -> list[Any]:
    summaries = await rt.service.list_activations(None, 50)  # type: ignore[union-attr]
    return [await rt.service.get_activation(s.id) for s in summaries]  # type: ignore[union-attr]


async def _report(rt: Runtime, activation_id: str) -> dict[str, Any]:
    return json.loads(await rt.service.report(activation_id, "json") or b"{}")  # type: ignore[union-attr]


async def test_1_from_the_director_starts_the_crisis_tree_and_records_who_invoked(system: Runtime) -> None:
    question = await _alert(system, "taric-1")
    asked = await system.sandbox.device(DIRECTOR).expect_sms(ASKED, timeout=10)
    assert asked.body.startswith("TARIC tariff lookups failing. Expected outage 3.5 h to 48 h (RTO tier 2")
    await system.sandbox.device(DIRECTOR).reply("1")

    async def crisis_tree() -> Any:
        return next((v for v in await _views(system) if v.tree == "taxud-crisis"), None)

    tree = await until(crisis_tree, what="the crisis tree started by the director's 1")
    assert tree.started_by == f"invocation:{question}"
    assert tree.invoked_by == "Aline Verhoeven (ISCP Director)"
    steps = [(e["step"], e["outcome"]) for e in (await _report(system, question))["timeline"]]
    assert any(s == "decision" and o.startswith("invoke: Aline Verhoeven") for s, o in steps), steps
    assert any(s == "tree started" and tree.id in o for s, o in steps), steps
    assert any(e["step"] == "invoked" for e in (await _report(system, tree.id))["timeline"])


async def test_2_records_standing_by_and_tells_the_coordinator(system: Runtime) -> None:
    question = await _alert(system, "taric-2")
    await system.sandbox.device(DIRECTOR).expect_sms(ASKED, timeout=10)
    await system.sandbox.device(DIRECTOR).reply("2")
    told = await system.sandbox.device(COORDINATOR).expect_sms("decided to stand by", timeout=10)
    assert "Aline Verhoeven decided to stand by" in told.body
    await asyncio.sleep(0.5)
    assert [v.tree for v in await _views(system)] == ["taxud-crisis.invocation"]  # no tree started
    steps = [(e["step"], e["outcome"]) for e in (await _report(system, question))["timeline"]]
    assert any(s == "decision" and o.startswith("stand by") for s, o in steps), steps


async def test_silence_asks_the_successor_then_the_coordinator(system: Runtime) -> None:
    question = await _alert(system, "taric-3")
    await system.sandbox.device(DIRECTOR).expect_sms(ASKED, timeout=10)
    # 600x clock: the standard policy's waits (SMS 5 min, call 3 min, email 10 min, 2 rounds) pass in seconds
    await system.sandbox.device(SUCCESSOR).expect_sms(ASKED, timeout=60)
    await system.sandbox.device(COORDINATOR).expect_sms(ASKED, timeout=90)
    await system.sandbox.device(COORDINATOR).reply("1")

    async def crisis_tree() -> Any:
        return next((v for v in await _views(system) if v.tree == "taxud-crisis"), None)

    tree = await until(crisis_tree, what="the tree started by the coordinator's 1")
    assert tree.invoked_by == "Sofia Lindqvist (coordinator)" or tree.invoked_by.endswith("(coordinator)")
    steps = [e["step"] for e in (await _report(system, question))["timeline"]]
    assert "alternate" in steps and "decision" in steps


async def _submit(rt: Runtime, key: str, status: str = "firing") -> Any:
    body = {"service": "TARIC", "severity": "critical", "summary": "TARIC tariff lookups failing"}
    [receipt] = await rt.service.submit_alerts([parse_native({**body, "dedup_key": key, "status": status})])  # type: ignore[union-attr]
    return receipt


async def test_the_incidents_later_alerts_and_its_resolve_reach_the_started_tree(system: Runtime) -> None:
    """Once the director's 1 started the tree, the incident is the tree's: another alert of it joins
    the tree (not the finished question) and the resolve applies the route's on_resolved
    (announce) to the tree."""
    question = await _alert(system, "taric-4")
    await system.sandbox.device(DIRECTOR).expect_sms(ASKED, timeout=10)
    await system.sandbox.device(DIRECTOR).reply("1")

    async def crisis_tree() -> Any:
        return next((v for v in await _views(system) if v.tree == "taxud-crisis"), None)

    tree = await until(crisis_tree, what="the crisis tree started by the director's 1")
    joined = await _submit(system, "taric-4b")
    assert (joined.status, joined.activation_id) == ("joined", tree.id), joined
    for key in ("taric-4", "taric-4b"):
        resolved = await _submit(system, key, "resolved")
        assert (resolved.status, resolved.activation_id) == ("resolved", tree.id), resolved
    steps = [e["step"] for e in (await _report(system, tree.id))["timeline"]]
    assert "alert joined" in steps and "alert resolved" in steps, steps
    assert not any(e["step"].startswith("alert ") for e in (await _report(system, question))["timeline"])


@pytest.fixture(params=["sqlite", "postgres"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The example plan on SQLite (writes serialised in the process) or PostgreSQL (concurrent
    transactions, as two instances sharing it have)."""
    url = None
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        url = str(server.create_database(f"invocation_{uuid.uuid4().hex[:12]}"))
    async with running_system(tmp_path, **({"database_url": url} if url else {})) as runtime:
        yield runtime


async def test_instances_recovering_the_same_confirmed_question_start_one_tree(any_store: Runtime) -> None:
    """The instance that applied the director's 1 died before starting the tree (its step listener
    is gone here); instances recovering at once start the tree once."""
    system = any_store
    engine = system.engine
    assert engine is not None
    engine.stepper.listeners.remove(engine.invoker.on_step)
    question = await _alert(system, "taric-5")
    await system.sandbox.device(DIRECTOR).expect_sms(ASKED, timeout=10)
    await system.sandbox.device(DIRECTOR).reply("1")

    async def confirmed() -> bool:
        view = await system.service.get_activation(question)  # type: ignore[union-attr]
        return view is not None and view.status == "completed"

    await until(confirmed, what="the director's 1 applied")
    started = await asyncio.gather(*(engine.invoker.start_confirmed(question) for _ in range(3)))
    assert sum(1 for s in started if s is not None) == 1, started
    assert [v.tree for v in await _views(system)].count("taxud-crisis") == 1
