"""Issue 3 acceptance, end to end through the sandbox and the real twilio SDK:

- a decline moves to the alternate at once; an invalid number or a failed status moves to the next
  method at once; a call answered by a machine is not an acknowledgement;
- a person with two open activations who replies "1" is asked which; "1 K7Q" acknowledges the
  right one; STOP marks the number opted out and later attempts skip SMS.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime
from notifier.sandbox import Persona
from notifier.store.engine_tables import activity_log, opt_outs, outbox
from tests.engine.conftest import running_system, write_small_config
from tests.waiting import until

ANA, BEN, CLEO = "+32470990201", "+32470990202", "+32470990203"


async def person_status(rt: Runtime, activation_id: str, person: str) -> str:
    view = await rt.service.get_activation(activation_id)  # type: ignore[union-attr]
    assert view is not None
    return next(p.status for n in view.nodes for p in n.people if p.person == person)


async def attempts(rt: Runtime, activation_id: str) -> list[tuple[str, str, str, str | None]]:
    async with rt.db.connect() as conn:  # type: ignore[union-attr]
        rows = (
            await conn.execute(
                select(outbox.c.person_id, outbox.c.channel, outbox.c.status, outbox.c.error_code)
                .where(outbox.c.activation_id == activation_id)
                .order_by(outbox.c.id)
            )
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def activate(rt: Runtime, tree: str) -> str:
    return await rt.engine.activate(
        tree, ActivationKind.INCIDENT, {"nature": "EOS unavailable"}, started_by="t"
    )  # type: ignore[union-attr]


async def test_decline_moves_to_the_alternate_at_once(tmp_path: Path) -> None:
    # 60x: the 5-minute wait "at once" is measured against is 5 s of real time, clear of load noise
    async with running_system(tmp_path, scale=60.0, **write_small_config(tmp_path / "cfg")) as rt:
        rt.sandbox.personas.add(Persona(number=ANA, sms_reply="2", reply_after=20.0))
        rt.sandbox.personas.add(Persona(number=BEN, sms_reply="1", reply_after=20.0))
        activation_id = await activate(rt, "eos")
        ben_sms = await rt.sandbox.device(BEN).expect_sms("Reply 1 to confirm", timeout=10)
        ana_sms = rt.sandbox.messages[0]
        assert ana_sms.to == ANA
        assert ana_sms.validity_period == 30 * 60  # the policy's validity period reached Twilio
        # "at once": the alternate is messaged well before Ana's 5-minute wait would have run out
        clock_gap = (ben_sms.created_at - ana_sms.created_at).total_seconds()
        assert clock_gap < 5 * 60, clock_gap
        assert not [c for c in rt.sandbox.calls if c.to == ANA], "no call to someone who declined"
        await until(lambda: _status_is(rt, activation_id, "completed"), timeout=60, what="completion")
        assert await person_status(rt, activation_id, "ana") == "declined"
        assert await person_status(rt, activation_id, "ben") == "acknowledged"


async def _status_is(rt: Runtime, activation_id: str, status: str) -> bool:
    view = await rt.service.get_activation(activation_id)  # type: ignore[union-attr]
    return view is not None and view.status == status


async def test_invalid_number_and_failed_delivery_move_on_at_once(tmp_path: Path) -> None:
    # 60x: Ben's 3-minute voice wait is 3 s of real time, room for the call round trip under load
    async with running_system(tmp_path, scale=60.0, **write_small_config(tmp_path / "cfg")) as rt:
        rt.sandbox.personas.add(Persona(number=ANA, invalid=True, voice="failed"))
        rt.sandbox.personas.add(Persona(number=BEN, sms_delivery="undelivered", voice="answer", digits="1"))
        activation_id = await activate(rt, "eos")
        # Ana: 21211 on the SMS, the call fails -> email, then her wait; Ben is reached after her email wait
        await rt.sandbox.device(BEN).expect_call(timeout=60)
        await until(lambda: _status_is(rt, activation_id, "completed"), timeout=60, what="completion")
        sent = await attempts(rt, activation_id)
        ana = [a for a in sent if a[0] == "ana"]
        assert ana[0][1] == "sms" and ana[0][2] == "failed" and ana[0][3] == "21211"
        ben = [a for a in sent if a[0] == "ben"]
        assert [a[1] for a in ben[:2]] == ["sms", "voice"], ben
        sms = next(m for m in rt.sandbox.messages if m.to == BEN)
        call = next(c for c in rt.sandbox.calls if c.to == BEN)
        # the undelivered SMS moved Ben to the call without waiting the 5 minutes of the policy
        assert (call.created_at - sms.created_at).total_seconds() < 5 * 60
        assert await person_status(rt, activation_id, "ben") == "acknowledged"


async def test_a_machine_is_not_an_acknowledgement(tmp_path: Path) -> None:
    async with running_system(tmp_path, **write_small_config(tmp_path / "cfg")) as rt:
        rt.sandbox.personas.add(Persona(number=CLEO, voice="machine"))
        activation_id = await activate(rt, "eos-oncall")
        call = await rt.sandbox.device(CLEO).expect_call(timeout=20)
        assert "Press 1" not in call.transcript  # voicemail gets the message, not the menu
        await rt.sandbox.device(CLEO).expect_sms("Reply 1", timeout=5)
        await until(lambda: _emailed(rt, "cleo.weber@example.org"), what="email after the machine")
        assert await person_status(rt, activation_id, "cleo") != "acknowledged"


async def _emailed(rt: Runtime, address: str) -> bool:
    return any(address in e.envelope_to for e in rt.sandbox.emails)


async def test_two_open_activations_ask_back_and_a_reference_picks_one(tmp_path: Path) -> None:
    async with running_system(tmp_path, **write_small_config(tmp_path / "cfg")) as rt:
        first = await activate(rt, "eos-oncall")
        second = await activate(rt, "eos-oncall")
        device = rt.sandbox.device(CLEO)
        one = await device.expect_sms("Reply 1", timeout=10)
        two = await device.expect_sms("Reply 1", timeout=10)
        refs = {first: await _ref(rt, first), second: await _ref(rt, second)}
        assert {refs[first], refs[second]} == {_ref_in(one.body), _ref_in(two.body)}
        answer = await device.reply("1")  # Twilio sends the <Message> of our TwiML answer back as an SMS
        assert "<Message>Which EOS call? " in answer.callback.body, answer.callback.body  # tree template
        assert refs[first] in answer.callback.body and refs[second] in answer.callback.body
        assert f"EOS unavailable ({refs[first]})" in answer.callback.body  # the incidents are named
        assert await person_status(rt, first, "cleo") != "acknowledged"
        await device.reply(f"1 {refs[second]}")
        await until(lambda: _acked(rt, second), what="the chosen activation acknowledged")
        assert await person_status(rt, first, "cleo") != "acknowledged"


async def _acked(rt: Runtime, activation_id: str) -> bool:
    return await person_status(rt, activation_id, "cleo") == "acknowledged"


async def _ref(rt: Runtime, activation_id: str) -> str:
    view = await rt.service.get_activation(activation_id)  # type: ignore[union-attr]
    assert view is not None
    return view.ref


def _ref_in(body: str) -> str:
    return body.rsplit("(ref ", 1)[1].rstrip(")")


async def test_stop_opts_the_number_out_and_later_attempts_skip_sms(tmp_path: Path) -> None:
    async with running_system(tmp_path, **write_small_config(tmp_path / "cfg")) as rt:
        first = await activate(rt, "eos-oncall")
        device = rt.sandbox.device(CLEO)
        await device.expect_sms("Reply 1", timeout=10)
        await device.reply("STOP")

        async def opted_out() -> bool:
            async with rt.db.connect() as conn:  # type: ignore[union-attr]
                return (
                    await conn.execute(select(opt_outs).where(opt_outs.c.address == CLEO))
                ).first() is not None

        await until(opted_out, what="the opt-out recorded")
        await rt.service.cancel(first, "t", "test")  # type: ignore[union-attr]
        sms_before = len([m for m in rt.sandbox.messages if m.to == CLEO])
        second = await activate(rt, "eos-oncall")
        await device.expect_call(timeout=20)  # reached by voice instead
        assert len([m for m in rt.sandbox.messages if m.to == CLEO]) == sms_before
        sent = await attempts(rt, second)
        assert sent[0][1] == "sms" and sent[0][3] == "opted-out", sent  # recorded, no provider asked
        async with rt.db.connect() as conn:  # type: ignore[union-attr]
            log = (
                await conn.execute(
                    select(activity_log.c.outcome).where(activity_log.c.activation_id == second)
                )
            ).all()
        assert any("opted" in (r[0] or "").lower() or "21610" in (r[0] or "") for r in log), log


async def test_a_first_rule_stands_the_others_down_and_a_late_reply_is_thanked(tmp_path: Path) -> None:
    async with running_system(tmp_path, **write_small_config(tmp_path / "cfg")) as rt:
        activation_id = await activate(rt, "eos-first")
        ana, cleo = rt.sandbox.device(ANA), rt.sandbox.device(CLEO)
        await ana.expect_sms("Reply 1", timeout=10)
        await cleo.expect_sms("Reply 1", timeout=10)
        await cleo.reply("1")
        await until(lambda: _status_is(rt, activation_id, "completed"), what="completion on the first ack")
        stand_down = await ana.expect_sms("No need to answer", timeout=10)
        assert "first acknowledgement met" in stand_down.body and "Reply 1" not in stand_down.body
        late = await ana.reply("1")
        assert "<Message>Thank you: already covered, EOS first responder is complete" in late.callback.body
        async with rt.db.connect() as conn:  # type: ignore[union-attr]
            outcomes = [
                r[0]
                for r in await conn.execute(
                    select(activity_log.c.outcome).where(activity_log.c.activation_id == activation_id)
                )
            ]
        assert any(o.startswith("confirm via sms recorded; no change") for o in outcomes), outcomes
        assert await person_status(rt, activation_id, "ana") != "acknowledged"
        # the activity log is causal: Cleo's reply comes before the acknowledgement it caused
        report = json.loads(await rt.service.report(activation_id, "json") or b"{}")  # type: ignore[union-attr]
        steps = [(e["step"], e["who"]) for e in report["timeline"]]
        assert steps.index(("response", "Cleo Weber")) < steps.index(("acknowledged", "Cleo Weber")), steps
