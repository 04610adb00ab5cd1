"""Email ack links: GET only shows, POST records; expired and forged links change nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from notifier.api.acktokens import AckTokenExpired, AckTokenInvalid, make_ack_token, verify_ack_token
from notifier.api.engine_api import StartRequest

from .conftest import NOW, SECRET_KEY, FixedClock
from .memory_engine import MemoryEngine

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def started(engine: MemoryEngine) -> str:
    view = await engine.start_activation(
        StartRequest(tree_id="seed-incident", started_by="fixture", reason="SEED EMCS core unavailable")
    )
    engine.calls.clear()
    return view.id


def person_status(engine: MemoryEngine, activation_id: str, person_id: str) -> str:
    view = engine.activations[activation_id]
    return next(p.status for n in view.nodes for p in n.people if p.person == person_id)


def test_token_round_trip_expiry_and_tampering() -> None:
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(hours=4))
    assert verify_ack_token(SECRET_KEY, token, NOW) == "att-1-p-ana"
    with pytest.raises(AckTokenExpired):
        verify_ack_token(SECRET_KEY, token, NOW + timedelta(hours=4))
    with pytest.raises(AckTokenInvalid):
        verify_ack_token("another-secret", token, NOW)
    encoded, expiry, mac = token.split(".")
    with pytest.raises(AckTokenInvalid):  # pushing the expiry forward breaks the signature
        verify_ack_token(SECRET_KEY, f"{encoded}.{int(expiry) + 86400}.{mac}", NOW)
    other = make_ack_token(SECRET_KEY, "att-1-p-ben", NOW + timedelta(hours=4)).split(".")[0]
    with pytest.raises(AckTokenInvalid):  # the signature binds the attempt id
        verify_ack_token(SECRET_KEY, f"{other}.{expiry}.{mac}", NOW)
    for junk in ("", "a.b", "a.b.c", "!!.1.!!"):
        with pytest.raises(AckTokenInvalid):
            verify_ack_token(SECRET_KEY, junk, NOW)


async def test_get_shows_the_activation_and_changes_nothing(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    activation = await started(engine)
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(hours=1))
    page = await client.get(f"/ack/{token}")
    assert page.status_code == 200
    assert "SEED EMCS core unavailable" in page.text and "K1Q" in page.text and "Ana Coordinator" in page.text
    assert '<form method="post">' in page.text and 'value="decline"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert engine.called("email_ack") == []
    assert person_status(engine, activation, "p-ana") == "notifying"


@pytest.mark.parametrize(("answer", "status"), [("ack", "acknowledged"), ("decline", "declined")])
async def test_post_records_the_answer(
    client: httpx.AsyncClient, engine: MemoryEngine, answer: str, status: str
) -> None:
    activation = await started(engine)
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(hours=1))
    response = await client.post(f"/ack/{token}", content=f"response={answer}", headers=FORM)
    assert response.status_code == 200
    assert engine.called("email_ack") == [("att-1-p-ana", answer)]
    assert person_status(engine, activation, "p-ana") == status
    again = await client.get(f"/ack/{token}")
    assert status in again.text  # the page now says what was recorded


async def test_expired_link_is_410_for_get_and_post(
    client: httpx.AsyncClient, engine: MemoryEngine, clock: FixedClock
) -> None:
    activation = await started(engine)
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(minutes=30))
    clock.current = NOW + timedelta(minutes=31)
    assert (await client.get(f"/ack/{token}")).status_code == 410
    assert (await client.post(f"/ack/{token}", content="response=ack", headers=FORM)).status_code == 410
    assert engine.calls == []
    assert person_status(engine, activation, "p-ana") == "notifying"


async def test_forged_link_is_403_and_records_nothing(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    activation = await started(engine)
    forged = make_ack_token("guessed-secret", "att-1-p-ana", NOW + timedelta(hours=1))
    assert (await client.get(f"/ack/{forged}")).status_code == 403
    assert (await client.post(f"/ack/{forged}", content="response=ack", headers=FORM)).status_code == 403
    assert (await client.post("/ack/not-a-token", content="response=ack", headers=FORM)).status_code == 403
    assert engine.calls == []
    assert person_status(engine, activation, "p-ana") == "notifying"


async def test_post_without_a_valid_answer_records_nothing(
    client: httpx.AsyncClient, engine: MemoryEngine
) -> None:
    await started(engine)
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(hours=1))
    response = await client.post(f"/ack/{token}", content="response=maybe", headers=FORM)
    assert response.status_code == 400
    assert engine.called("email_ack") == []


async def test_closed_activation_refuses_the_answer(client: httpx.AsyncClient, engine: MemoryEngine) -> None:
    activation = await started(engine)
    await engine.close(activation, "coordinator", None)
    token = make_ack_token(SECRET_KEY, "att-1-p-ana", NOW + timedelta(hours=1))
    assert "no longer open" in (await client.get(f"/ack/{token}")).text
    response = await client.post(f"/ack/{token}", content="response=ack", headers=FORM)
    assert response.status_code == 409
    assert person_status(engine, activation, "p-ana") == "notifying"
