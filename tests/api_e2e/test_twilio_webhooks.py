"""Issue 4 acceptance: Twilio webhooks against a running daemon (`Runtime` with its HTTP server).

Requests are signed with the twilio SDK's own `RequestValidator`, as Twilio signs them. A correctly
signed "1" from the coordinator's mobile acknowledges; a forged signature, a missing one, a
signature over another URL or made with another token is 403 and changes nothing (the activation's
row revision and the responses table stay as they were); a correctly signed reply from a number
the activation never contacted changes nothing either.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime
from notifier.store.engine_tables import activations, responses
from tests.engine.conftest import running_system

COORDINATOR_MOBILE = "+32470990103"  # p-lindqvist in config/plan.yaml (fictitious)
STRANGER = "+32470990999"  # in no plan


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_system(
        tmp_path, scale=10
    ) as runtime:  # the coordinator's SMS wait (5 min) is 30 s: nothing moves meanwhile
        yield runtime


async def snapshot(runtime: Runtime, activation_id: str) -> tuple[int, int, str]:
    """(row revision, number of responses, coordinator node status)."""
    assert runtime.db is not None and runtime.service is not None
    async with runtime.db.connect() as conn:
        revision = (
            await conn.execute(select(activations.c.revision).where(activations.c.id == activation_id))
        ).scalar_one()
        count = (await conn.execute(select(func.count()).select_from(responses))).scalar_one()
    view = await runtime.service.get_activation(activation_id)
    assert view is not None
    return int(revision), int(count), view.nodes[0].status


async def delivered(runtime: Runtime, activation_id: str) -> None:
    """Wait for the sandbox's delivery callback, so that nothing but our requests changes the row."""
    assert runtime.service is not None
    for _ in range(200):
        view = await runtime.service.get_activation(activation_id)
        assert view is not None
        if [a.status for a in view.nodes[0].people[0].attempts] == ["delivered"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the coordinator's SMS was not reported delivered")


async def test_signed_reply_acknowledges_and_everything_else_changes_nothing(daemon: Runtime) -> None:
    assert daemon.engine is not None
    settings = daemon.settings
    activation_id = await daemon.engine.activate(
        "nist-sample", ActivationKind.INCIDENT, {"nature": "Data centre power loss"}, started_by="test"
    )
    sms = await daemon.sandbox.device(COORDINATOR_MOBILE).expect_sms(r"Reply 1 to confirm", timeout=15)
    await daemon.engine.wait_idle()
    await delivered(daemon, activation_id)
    url = f"{settings.public_base_url}/webhooks/twilio/sms"
    token = settings.twilio.auth_token.get_secret_value()

    def form(sender: str, body: str = "1") -> dict[str, str]:
        return {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": settings.twilio.account_sid,
            "From": sender,
            "To": sms.from_,
            "Body": body,
            "NumMedia": "0",
        }

    async def post(params: dict[str, str], signature: str | None) -> httpx.Response:
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        async with httpx.AsyncClient() as client:
            return await client.post(url, data=params, headers=headers)

    before = await snapshot(daemon, activation_id)
    assert before[2] == "notifying"
    forged = base64.b64encode(secrets.token_bytes(20)).decode()
    attempts: list[tuple[str, dict[str, str], str | None]] = []
    params = form(COORDINATOR_MOBILE)
    attempts.append(("forged", params, forged))
    attempts.append(("missing", params, None))
    attempts.append(("empty", params, ""))
    attempts.append(
        (
            "other URL",
            params,
            RequestValidator(token).compute_signature("https://evil.example.org/webhooks/twilio/sms", params),
        )
    )
    attempts.append(("other token", params, RequestValidator("not-our-token").compute_signature(url, params)))
    tampered = {**params, "Body": "2"}  # signature of "1" on a body saying "2"
    attempts.append(("tampered body", tampered, RequestValidator(token).compute_signature(url, params)))
    for what, data, signature in attempts:
        answer = await post(data, signature)
        assert answer.status_code == 403, what
        assert await snapshot(daemon, activation_id) == before, what

    stranger = form(STRANGER)
    answer = await post(stranger, RequestValidator(token).compute_signature(url, stranger))
    assert answer.status_code == 200
    await daemon.engine.wait_idle()
    after_stranger = await snapshot(daemon, activation_id)
    assert after_stranger[0] == before[0] and after_stranger[2] == "notifying"

    answer = await post(params, RequestValidator(token).compute_signature(url, params))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    after = await snapshot(daemon, activation_id)
    assert after[2] == "acknowledged" and after[0] > before[0] and after[1] > before[1]


async def _post_signed(token: str, url: str, params: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(token).compute_signature(url, params)
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers={"X-Twilio-Signature": signature})


async def _delivered_coordinator_sms(daemon: Runtime) -> tuple[str, Any]:
    assert daemon.engine is not None
    activation_id = await daemon.engine.activate(
        "nist-sample", ActivationKind.INCIDENT, {"nature": "Data centre power loss"}, started_by="test"
    )
    sms = await daemon.sandbox.device(COORDINATOR_MOBILE).expect_sms(r"Reply 1 to confirm", timeout=15)
    await daemon.engine.wait_idle()
    await delivered(daemon, activation_id)
    return activation_id, sms


async def test_a_replayed_status_callback_is_acknowledged_and_applied_once(daemon: Runtime) -> None:
    """Twilio may deliver a status callback twice (same `MessageSid`, same status): the replay is
    answered 200 and changes nothing (no second step: the activation's row revision stays)."""
    assert daemon.engine is not None
    token = daemon.settings.twilio.auth_token.get_secret_value()
    activation_id, sms = await _delivered_coordinator_sms(daemon)
    callback = next(c for c in sms.callbacks if c.params.get("MessageStatus") == "delivered")
    before = await snapshot(daemon, activation_id)
    answer = await _post_signed(token, callback.url, {k: str(v) for k, v in callback.params.items()})
    assert answer.status_code == 200
    await daemon.engine.wait_idle()
    assert await snapshot(daemon, activation_id) == before, "a replayed status callback was applied again"


async def test_a_replayed_reply_is_acknowledged_and_stored_once(daemon: Runtime) -> None:
    """A genuine reply posted twice with the same `MessageSid` (a replay) is answered 200 the second
    time and neither stored nor acted on again."""
    assert daemon.engine is not None and daemon.db is not None and daemon.service is not None
    settings = daemon.settings
    token = settings.twilio.auth_token.get_secret_value()
    activation_id, sms = await _delivered_coordinator_sms(daemon)
    reply = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": settings.twilio.account_sid,
        "From": COORDINATOR_MOBILE,
        "To": sms.from_,
        "Body": "1",
        "NumMedia": "0",
    }
    url = f"{settings.public_base_url}/webhooks/twilio/sms"
    first = await _post_signed(token, url, reply)
    assert first.status_code == 200 and "Confirmed" in first.text
    assert (await snapshot(daemon, activation_id))[2] == "acknowledged"
    replayed = await _post_signed(token, url, reply)
    assert replayed.status_code == 200 and replayed.headers["content-type"].startswith("application/xml")
    await daemon.engine.wait_idle()
    async with daemon.db.connect() as conn:
        stored = await conn.execute(
            select(func.count()).select_from(responses).where(responses.c.provider_id == reply["MessageSid"])
        )
        assert stored.scalar_one() == 1, "a replayed reply was stored twice"
    assert daemon.service.responses.replays_ignored == 1
