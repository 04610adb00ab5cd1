"""SMS through a real Kannel gateway (bearerbox + smsbox + fakesmsc), and Twilio failing over to it.

Each test starts the daemon (sandbox for Twilio and SMTP) and a Kannel gateway on free ports whose
`sms-service` get-url points at the daemon's `/webhooks/kannel/sms`. Replies are injected through
fakesmsc, exactly as a phone's SMS reaches Kannel from an SMSC.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notifier.channels.kannel.provider import sign
from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime, make_clock
from notifier.store.db import upgrade_async
from notifier.store.engine_tables import opt_outs, outbox
from tests.channels.kannel_gateway import UNROUTABLE, KannelGateway
from tests.engine.conftest import free_port, system_settings
from tests.waiting import until

pytestmark = pytest.mark.slow

SECRET = "kannel-shared-secret-7f3a"
GATEWAY = "+3222999000"
PEOPLE = [f"+3247099030{n}" for n in range(1, 7)]  # made-up subscriber digits in the Belgian range
ANA, BEN, CLEO = PEOPLE[0], PEOPLE[1], PEOPLE[2]

PLAN = """
organisation: {name: TAXUD ITSCP drill, timezone: Europe/Brussels}
people:
%s
roles:
%s
  - {id: eos-lead, name: EOS recovery lead, primary: p1, alternates: [p2]}
  - {id: nowhere, name: Unroutable duty phone, primary: p9}
"""
TREES = """
policies:
  - id: sms-first
    methods: [{kind: sms, wait: 5m}, {kind: voice, wait: 3m}, {kind: email, wait: 10m}]
    respect_hours: false
  - id: sms-twice
    methods: [{kind: sms, wait: 2m}]
    rounds: 2
    respect_hours: false
calltrees:
  - id: eos
    name: EOS recovery
    mode: broadcast
    policy: sms-first
    nodes:
      - role: eos-lead
  - id: cleo
    name: EOS on-call
    mode: broadcast
    policy: sms-first
    nodes:
      - role: r3
  - id: everyone
    name: SEED all staff
    mode: broadcast
    policy: sms-twice
    nodes:
%s
  - id: nowhere
    name: Unroutable
    mode: broadcast
    policy: sms-first
    nodes:
      - role: nowhere
"""


def write_config(directory: Path) -> dict[str, object]:
    directory.mkdir(parents=True, exist_ok=True)
    people = [(f"p{n}", number) for n, number in enumerate(PEOPLE, 1)] + [("p9", UNROUTABLE + "990199")]
    person_yaml = "\n".join(
        f"  - id: {pid}\n    name: Person {pid}\n    contacts:\n"
        f'      - {{kind: sms, address: "{number}", label: mobile}}\n'
        f'      - {{kind: voice, address: "{number}", label: mobile}}\n'
        f"      - {{kind: email, address: {pid}@example.org}}"
        for pid, number in people
    )
    roles = "\n".join(f"  - {{id: r{n}, name: Duty {n}, primary: p{n}}}" for n in range(1, 7))
    nodes = "\n".join(f"      - role: r{n}" for n in range(1, 7))
    (directory / "plan.yaml").write_text(PLAN % (person_yaml, roles))
    (directory / "trees.yaml").write_text(TREES % nodes)
    return {"plan_paths": [directory / "plan.yaml"], "calltree_paths": [directory / "trees.yaml"]}


@contextlib.asynccontextmanager
async def kannel_system(
    tmp_path: Path,
    sms: list[str],
    scale: float = 30.0,
    delivery: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[tuple[Runtime, KannelGateway]]:
    port = free_port()
    gateway = KannelGateway(tmp_path / "kannel", f"http://127.0.0.1:{port}", SECRET)
    await gateway.start()
    try:
        settings = system_settings(
            tmp_path,
            port,
            scale=scale,
            delivery={"sms": sms, "voice": ["twilio"], "email": ["smtp"], "chat": [], **(delivery or {})},
            providers={"kannel": gateway.provider_settings()},
            **write_config(tmp_path / "cfg"),
            **overrides,
        )
        await upgrade_async(settings.database_url)
        runtime = Runtime(settings, make_clock(settings))
        await runtime.start()
        try:
            yield runtime, gateway
        finally:
            await runtime.stop(timeout=5)
    finally:
        await gateway.stop()


async def activate(rt: Runtime, tree: str) -> str:
    assert rt.engine is not None
    return await rt.engine.activate(
        tree, ActivationKind.INCIDENT, {"nature": "SEED unavailable"}, started_by="t"
    )


async def person_status(rt: Runtime, activation_id: str, person: str) -> str:
    assert rt.service is not None
    view = await rt.service.get_activation(activation_id)
    assert view is not None
    return next(p.status for n in view.nodes for p in n.people if p.person == person)


async def attempt_rows(rt: Runtime, activation_id: str) -> list[Any]:
    assert rt.db is not None
    async with rt.db.connect() as conn:
        query = select(outbox).where(outbox.c.activation_id == activation_id).order_by(outbox.c.id)
        return list((await conn.execute(query)).all())


async def attempt_status(rt: Runtime, activation_id: str, attempt_id: str) -> str:
    assert rt.engine is not None
    state = rt.engine.stepper._states.get(activation_id)
    if state is None:
        return ""
    return state.state.attempts[attempt_id].status


async def test_sms_goes_out_through_kannel_and_a_reply_through_fakesmsc_acknowledges(tmp_path: Path) -> None:
    async with kannel_system(tmp_path, ["kannel"]) as (rt, kannel):
        activation_id = await activate(rt, "cleo")
        sms = await kannel.expect(CLEO, "Reply 1")
        assert sms.sender == GATEWAY
        [row] = await attempt_rows(rt, activation_id)
        # the fake SMSC reports delivery; the DLR reaches the engine as "delivered", like Twilio's
        await until(lambda: _is(rt, activation_id, row.attempt_id, "delivered"), "the delivery report")
        kannel.inject(CLEO, GATEWAY, "1")
        await until(lambda: _person(rt, activation_id, "p3", "acknowledged"), "the reply to acknowledge")
        answer = await kannel.expect(CLEO, "Confirmed")
        assert "ref" in answer.text
        assert rt.sandbox.messages == []  # Twilio was never asked


async def test_ambiguous_reply_is_asked_back_and_stop_opts_out_on_every_provider(tmp_path: Path) -> None:
    async with kannel_system(tmp_path, ["kannel"]) as (rt, kannel):
        first = await activate(rt, "cleo")
        await kannel.expect(CLEO, "Reply 1")
        second = await activate(rt, "everyone")
        await until(lambda: _count(kannel, CLEO, 2), "the second activation's SMS")
        kannel.inject(CLEO, GATEWAY, "1")
        question = await kannel.expect(CLEO, "ref")
        assert "which" in question.text.lower() or "reply" in question.text.lower()
        assert await person_status(rt, first, "p3") != "acknowledged"
        await asyncio.sleep(1.2)  # fakesmsc reads one line per poll of its input
        kannel.inject(CLEO, GATEWAY, "STOP")

        async def opted_out() -> bool:
            assert rt.db is not None
            async with rt.db.connect() as conn:
                found = await conn.execute(select(opt_outs.c.address).where(opt_outs.c.address == CLEO))
                return found.first() is not None

        await until(opted_out, "the opt-out recorded")
        assert rt.service is not None
        for activation_id in (first, second):
            await rt.service.cancel(activation_id, "t", "test over")
        before = len(kannel.to(CLEO))
        third = await activate(rt, "cleo")
        await rt.sandbox.device(CLEO).expect_call(timeout=20)  # reached by voice instead
        assert len(kannel.to(CLEO)) == before
        assert not [m for m in rt.sandbox.messages if m.to == CLEO]
        rows = await attempt_rows(rt, third)
        assert (rows[0].channel, rows[0].error_code) == ("sms", "opted-out")


async def test_kannel_delivery_reports_move_escalation_like_twilios(tmp_path: Path) -> None:
    async with kannel_system(tmp_path, ["kannel"], scale=10.0) as (rt, kannel):
        # an unroutable number: Kannel refuses at once (403) -> the call follows without waiting
        refused = await activate(rt, "nowhere")
        await until(lambda: _rows(rt, refused, 2), "the call after the refused SMS")
        await rt.sandbox.device(UNROUTABLE + "990199").expect_call(timeout=5)
        rows = await attempt_rows(rt, refused)
        assert (rows[0].channel, rows[0].status, rows[0].error_code) == ("sms", "failed", "403")
        # an undelivered report (%d = 2) for an accepted SMS moves on at once, as Twilio's does
        # (fakesmsc's SMSC reports every message delivered; it is disconnected so that Kannel queues
        # this one and the undelivered report comes first, as an SMSC sends it)
        await kannel.disconnect_smsc()
        accepted = await activate(rt, "cleo")
        await until(lambda: _rows(rt, accepted, 1), "the SMS queued in Kannel")
        [sms] = await attempt_rows(rt, accepted)
        await until(lambda: _is(rt, accepted, sms.attempt_id, "sent"), "Kannel to accept the SMS")
        token = f"{accepted}.{sms.attempt_id}"
        async with httpx.AsyncClient(base_url=rt.settings.public_base_url) as client:
            forged = await client.get("/webhooks/kannel/dlr", params={"t": token, "k": "0" * 32, "type": "2"})
            assert forged.status_code == 403
            dlr = {"t": token, "k": sign(SECRET, token), "type": "2", "reply": "NACK/undelivered"}
            assert (await client.get("/webhooks/kannel/dlr", params=dlr)).status_code == 200
            wrong_secret = {"k": "guess", "from": CLEO, "text": "1"}
            assert (await client.get("/webhooks/kannel/sms", params=wrong_secret)).status_code == 403
        await rt.sandbox.device(CLEO).expect_call(timeout=5)  # 5 minutes' wait at 10x is 30 s: not waited
        assert await attempt_status(rt, accepted, sms.attempt_id) == "failed"


@pytest.mark.parametrize("failure", ["5xx", "timeout"])
async def test_twilio_failing_fails_over_to_kannel_within_one_cooldown(tmp_path: Path, failure: str) -> None:
    window, cooldown = 2, 600
    async with kannel_system(
        tmp_path,
        ["twilio", "kannel"],
        scale=30.0,
        delivery={"cooldown": cooldown},
        max_in_flight=window,
        twilio={"timeout": 0.3},
    ) as (rt, kannel):
        if failure == "5xx":
            rt.sandbox.faults.error_5xx_ratio = 1.0  # every create answers 500, nothing created
        else:
            rt.sandbox.faults.slow_seconds = 1.0  # answers after our 0.3 s timeout (and creates it)
        threshold = rt.settings.delivery.failure_threshold
        activation_id = await activate(rt, "everyone")
        # nothing lost: everyone is messaged through the gateway (those whose first SMS met Twilio's
        # failure get their second round through it)
        for number in PEOPLE:
            await kannel.expect(number, "Reply 1", timeout=40)
        rows = await attempt_rows(rt, activation_id)
        twilio_tries = [r for r in rows if r.provider == "twilio"]
        # Twilio took `threshold` failures (plus what was in flight beside them), then sat out its
        # cool-down; each of those sends may have gone out, so they were not repeated on Kannel at
        # once: their round 2 went through Kannel after the wait. Each was looked up first: a
        # timed-out send Twilio did create is recorded as sent; the 500s stay unknown (Kannel
        # cannot be asked whether it has them, so nobody can say they were not sent)
        assert {r.status for r in twilio_tries} == ({"unknown"} if failure == "5xx" else {"sent"})
        assert threshold <= len(twilio_tries) <= threshold + window - 1
        # duplicates: only what Twilio may have created of those, bounded by the in-flight window
        if failure == "5xx":
            assert rt.sandbox.messages == []
        else:
            assert len(rt.sandbox.messages) <= threshold + window - 1
        # within one cool-down of Twilio's first failure, everything went out through Kannel
        first_failure = min(r.sent_at for r in twilio_tries)
        kannel_sent = [r.sent_at for r in rows if r.provider == "kannel"]
        assert len(kannel_sent) >= len(PEOPLE)
        assert (max(kannel_sent) - first_failure).total_seconds() < cooldown
        assert rt.metrics is not None
        scrape = (await rt.metrics.scrape()).decode()
        failovers = [line for line in scrape.splitlines() if line.startswith("notifier_provider_failovers")]
        assert 'notifier_provider_failovers_total{channel="sms",event="failover",provider="twilio"} 1.0' in (
            failovers
        ), failovers
        assert 'notifier_provider_in_service{provider="twilio"} 0.0' in scrape
        kannel.inject(ANA, GATEWAY, "1")
        await until(lambda: _person(rt, activation_id, "p1", "acknowledged"), "Ana's reply via Kannel")
        assert rt.service is not None
        report = (await rt.service.report(activation_id, "md") or b"").decode()
        section = report.split("## Delivery by provider, per attempt")[1]
        assert "| twilio |" in section and "| kannel |" in section


async def _is(rt: Runtime, activation_id: str, attempt_id: str, status: str) -> bool:
    return await attempt_status(rt, activation_id, attempt_id) == status


async def _person(rt: Runtime, activation_id: str, person: str, status: str) -> bool:
    return await person_status(rt, activation_id, person) == status


async def _rows(rt: Runtime, activation_id: str, count: int) -> bool:
    return len(await attempt_rows(rt, activation_id)) >= count


async def _count(kannel: KannelGateway, number: str, count: int) -> bool:
    return len(kannel.to(number)) >= count
