"""Issue 3 acceptance: the NIST SP 800-34 Figure 4-2 tree in cascade mode, end to end.

Real parts: the twilio SDK against the sandbox, the SMTP sink, the HTTP webhooks with signatures,
SQLite, the engine with its dispatcher and deadline waiter; only the clock runs 600x faster.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from notifier.domain.calltree import ActivationKind
from notifier.domain.plan import ChannelKind
from notifier.runtime import Runtime
from notifier.sandbox import Persona, preset
from notifier.store.engine_tables import activity_log
from tests.waiting import until

COORDINATOR = "p-lindqvist"
LEADERS = {
    "network-recovery-lead": None,
    "database-recovery-lead": None,
    "telecom-lead": None,
    "server-recovery-lead": None,
}
SILENT_ROLE = "server-recovery-lead"


def numbers(runtime: Runtime, person_id: str) -> list[str]:
    person = runtime.engine.config.plan.person(person_id)  # type: ignore[union-attr]
    assert person is not None
    return sorted({c.address for c in person.contacts if c.kind is not ChannelKind.EMAIL})


def email_of(runtime: Runtime, person_id: str) -> str:
    person = runtime.engine.config.plan.person(person_id)  # type: ignore[union-attr]
    assert person is not None
    return next(c.address for c in person.contacts if c.kind is ChannelKind.EMAIL)


def mobile(runtime: Runtime, person_id: str) -> str:
    person = runtime.engine.config.plan.person(person_id)  # type: ignore[union-attr]
    assert person is not None
    return next(c.address for c in person.contacts if c.kind is ChannelKind.SMS)


def script(runtime: Runtime, person_id: str, behaviour: Persona) -> None:
    for number in numbers(runtime, person_id):
        runtime.sandbox.personas.add(replace(behaviour, number=number))


async def test_nist_cascade_escalates_past_an_unreachable_leader(system: Runtime) -> None:
    plan = system.engine.config.plan  # type: ignore[union-attr]
    silent_role = plan.role(SILENT_ROLE)
    assert silent_role is not None and silent_role.primary and silent_role.alternates
    silent = [silent_role.primary, silent_role.alternates[0]]
    # everybody in the tree confirms by SMS after 30 s, except the silent leader and their alternate
    tree = system.engine.config.trees.tree("nist-sample")  # type: ignore[union-attr]
    assert tree is not None
    everyone: set[str] = set()
    stack = list(tree.nodes)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        role = plan.role(node.role or "")
        if role:
            everyone.update(role.holders)
    for person_id in everyone - set(silent):
        script(system, person_id, preset("confirms", "+00", reply_after=30.0))
    for person_id in silent:
        script(system, person_id, preset("never_answers", "+00"))

    activation_id = await system.engine.activate(  # type: ignore[union-attr]
        "nist-sample",
        ActivationKind.INCIDENT,
        {
            "nature": "Data centre power loss",
            "outage_estimate": "6 hours",
            "convene": "Luxembourg site 14:00",
        },
        started_by="test",
    )
    sandbox = system.sandbox
    coordinator_sms = await sandbox.device(mobile(system, COORDINATOR)).expect_sms(
        r"Reply 1 to confirm", timeout=10
    )
    assert "Data centre power loss" in coordinator_sms.body
    # cascade: the leaders hear nothing before the coordinator confirmed
    leader_people = [plan.role(r).primary for r in LEADERS]  # type: ignore[union-attr]
    for person_id in leader_people:
        device = sandbox.device(mobile(system, person_id))
        sms = await device.expect_sms(r"Reply 1 to confirm", timeout=15)
        assert sms.created_at >= coordinator_sms.created_at

    # the silent leader: SMS, then a call, then email, then the role's alternate
    primary, alternate = silent
    await until(
        lambda: _has_email(sandbox, email_of(system, primary)), timeout=30, what="email to the silent leader"
    )
    first_sms = min(m.created_at for m in sandbox.messages if m.to == mobile(system, primary))
    first_call = min(c.created_at for c in sandbox.calls if c.to in numbers(system, primary))
    first_email = min(e.received_at for e in sandbox.emails if email_of(system, primary) in e.envelope_to)
    assert first_sms < first_call < first_email
    alt_sms = await sandbox.device(mobile(system, alternate)).expect_sms(r"Reply 1", timeout=40)
    assert alt_sms.created_at > first_email

    # the alternate is silent too: the node is unreachable, its members are told directly,
    # and the coordinator is told
    member_roles = next(n.role for n in tree.nodes[0].children if n.role == SILENT_ROLE)
    assert member_roles
    silent_node = next(n for n in tree.nodes[0].children if n.role == SILENT_ROLE)
    for child in silent_node.children:
        holder = plan.role(child.role or "").primary  # type: ignore[union-attr]
        await sandbox.device(mobile(system, holder)).expect_sms(r"Reply 1", timeout=90)
    await sandbox.device(mobile(system, COORDINATOR)).expect_sms(r"could not be reached", timeout=30)

    async def completed() -> bool:
        view = await system.service.get_activation(activation_id)  # type: ignore[union-attr]
        return view is not None and view.status == "completed"

    await until(completed, timeout=60, what="completion")
    view = await system.service.get_activation(activation_id)  # type: ignore[union-attr]
    assert view is not None
    statuses = {n.key: n.status for n in view.nodes}
    assert statuses[SILENT_ROLE] == "unreachable"
    assert statuses["iscp-coordinator"] == "acknowledged"
    assert all(s in ("acknowledged", "unreachable") for s in statuses.values()), statuses

    async with system.db.connect() as conn:  # type: ignore[union-attr]
        rows = (
            await conn.execute(select(activity_log).where(activity_log.c.activation_id == activation_id))
        ).all()
    steps = [r.step for r in rows]
    assert rows and all(r.at is not None for r in rows)
    assert any("unreachable" in (r.step + " " + r.outcome) for r in rows), steps
    assert "completed" in steps


async def _has_email(sandbox, address: str) -> bool:  # type: ignore[no-untyped-def]
    return any(address in e.envelope_to for e in sandbox.emails)
