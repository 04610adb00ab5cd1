"""Issue 17 acceptance: drills of the NIST SP 800-34 Figure 4-2 tree on the sandbox, with the example
plan and policies, judged by the report.

Everyone answers: the drill completes within the tree's 45-minute limit and PASSes. A team leader
whose primary and alternate never answer: the report is not a plain PASS; it FAILs naming the leader.
Real parts: the twilio SDK against the sandbox, the SMTP sink, signed webhooks, SQLite, the engine and
the report built from the store; only the clock runs 600x faster.
"""

from __future__ import annotations

import json

import pytest

from notifier.domain.calltree import ActivationKind
from notifier.reports.build import render_report
from notifier.runtime import Runtime
from notifier.sandbox import preset
from tests.engine.test_nist_cascade import mobile, script
from tests.waiting import until

TREE = "nist-sample"
SCENARIO = "Power loss at ITSM Data Centre Alpha"


def tree_people(system: Runtime) -> set[str]:
    plan = system.engine.config.plan  # type: ignore[union-attr]
    tree = system.engine.config.trees.tree(TREE)  # type: ignore[union-attr]
    assert plan is not None and tree is not None
    people: set[str] = set()
    stack = list(tree.nodes)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        role = plan.role(node.role or "")
        if role:
            people.update(role.holders)
    return people


async def drill_report(system: Runtime, silent: set[str], policy: str | None = None) -> dict[str, object]:
    for person_id in tree_people(system) - silent:
        script(system, person_id, preset("confirms", "+00", reply_after=45.0))
    for person_id in silent:
        script(system, person_id, preset("never_answers", "+00"))
    activation_id = await system.engine.activate(  # type: ignore[union-attr]
        TREE,
        ActivationKind.DRILL,
        {"instructions": "Reply 1 to confirm", "scenario": SCENARIO},
        started_by="test",
        policy=policy,
    )

    async def completed() -> bool:
        view = await system.service.get_activation(activation_id)  # type: ignore[union-attr]
        return view is not None and view.status == "completed"

    await until(completed, timeout=120, what="drill completion")
    async with system.db.connect() as conn:  # type: ignore[union-attr]
        body = await render_report(conn, activation_id, "json")
    assert body is not None
    document: dict[str, object] = json.loads(body)
    return document


@pytest.mark.parametrize("policy", [None, "drill"], ids=["tree-policy", "drill-policy"])
async def test_drill_with_everyone_answering_passes_its_limit(system: Runtime, policy: str | None) -> None:
    """Under the tree's own policy and under the drill policy the scheduled-drill route uses."""
    report = await drill_report(system, silent=set(), policy=policy)
    coordinator = system.engine.config.plan.role("iscp-coordinator")  # type: ignore[union-attr]
    assert coordinator is not None and coordinator.primary
    sms = await system.sandbox.device(mobile(system, coordinator.primary)).expect_sms(r"DRILL", timeout=10)
    assert sms.body.startswith(f"DRILL: Scenario: {SCENARIO}.")  # the exercise travels with the message
    assert report["verdict"] == "PASS", report["verdict_reason"]
    assert (
        isinstance(report["completion_s"], int)
        and report["completion_s"] <= report["time_limit_s"] == 45 * 60
    )


async def test_drill_with_an_unreachable_team_lead_is_not_a_plain_pass(system: Runtime) -> None:
    plan = system.engine.config.plan  # type: ignore[union-attr]
    lead = plan.role("telecom-lead")
    assert lead is not None and lead.primary and lead.alternates
    report = await drill_report(system, silent={lead.primary, *lead.alternates})
    assert report["verdict"] != "PASS"
    assert report["verdict"] == "FAIL" and "Telecommunications Team Leader" in str(report["verdict_reason"])
