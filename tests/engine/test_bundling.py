"""Bundling (issue 14): a person paged by three open activations at once gets one SMS naming them;
"1" acknowledges all three, "1 <ref>" one. Through the sandbox and the real twilio SDK, with
`sms_bundle_seconds` set (bundling is off by default)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime
from tests.engine.conftest import running_system, write_small_config
from tests.engine.test_responses_e2e import CLEO, person_status
from tests.waiting import until

INCIDENTS = ("EOS customs decisions delayed", "EOS database replica lagging", "EOS portal unreachable")


async def three(rt: Runtime) -> list[str]:
    assert rt.engine is not None
    return [
        await rt.engine.activate("eos-oncall", ActivationKind.INCIDENT, {"nature": nature}, started_by="t")
        for nature in INCIDENTS
    ]


async def refs(rt: Runtime, ids: list[str]) -> list[str]:
    assert rt.service is not None
    found = []
    for activation_id in ids:
        view = await rt.service.get_activation(activation_id)
        assert view is not None
        found.append(view.ref)
    return found


def sms_to_cleo(rt: Runtime) -> list[str]:
    return [m.body for m in rt.sandbox.messages if m.to == CLEO]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"bundling_{uuid.uuid4().hex[:12]}"))


async def test_three_pages_to_one_number_are_one_sms_and_1_confirms_all(tmp_path: Path, store: str) -> None:
    config = write_small_config(tmp_path / "cfg")
    async with running_system(tmp_path, scale=1.0, sms_bundle_seconds=2, database_url=store, **config) as rt:
        ids = await three(rt)
        device = rt.sandbox.device(CLEO)
        sms = await device.expect_sms("3 open incidents", timeout=15)
        codes = await refs(rt, ids)
        for nature, ref in zip(INCIDENTS, codes, strict=True):
            assert f"{nature} ({ref})" in sms.body
        assert f"Reply 1 to confirm all 3, or 1 {codes[0]} for one" in sms.body
        assert len(sms_to_cleo(rt)) == 1  # one SMS, not three
        answer = await device.reply("1")
        assert "<Message>Confirmed all 3 (" in answer.callback.body, answer.callback.body
        for activation_id in ids:
            assert await person_status(rt, activation_id, "cleo") == "acknowledged"


async def test_1_with_a_ref_confirms_only_that_one(tmp_path: Path) -> None:
    config = write_small_config(tmp_path / "cfg")
    async with running_system(tmp_path, scale=1.0, sms_bundle_seconds=2, **config) as rt:
        ids = await three(rt)
        device = rt.sandbox.device(CLEO)
        await device.expect_sms("3 open incidents", timeout=15)
        codes = await refs(rt, ids)
        answer = await device.reply(f"1 {codes[1]}")
        assert codes[1] in answer.callback.body

        async def second_acked() -> bool:
            return await person_status(rt, ids[1], "cleo") == "acknowledged"

        await until(second_acked, what="the chosen activation acknowledged")
        assert [await person_status(rt, i, "cleo") for i in (ids[0], ids[2])] == ["notifying", "notifying"]


async def test_without_a_window_each_activation_pages_at_once(tmp_path: Path) -> None:
    config = write_small_config(tmp_path / "cfg")
    async with running_system(tmp_path, scale=1.0, **config) as rt:
        await three(rt)
        device = rt.sandbox.device(CLEO)
        for _ in range(3):
            await device.expect_sms("Reply 1", timeout=15)
        assert not any("open incidents" in body for body in sms_to_cleo(rt))
