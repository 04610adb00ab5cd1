"""Issue 6 acceptance: `/metrics` is scraped and its counters match what the test did.

A whole in-process system (SQLite, sandbox, engine, HTTP) on the small EOS plan: Ana (EOS recovery
lead) never answers, so her SMS wait and the email wait expire (deadlines fire) and her alternate
Ben confirms by SMS; Cleo (EOS on-call) declines by SMS. Every figure is compared with the sandbox's
own record of what it received.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from notifier.domain.calltree import ActivationKind
from notifier.metrics import Metrics, set_mqtt_connected
from notifier.runtime import Runtime
from notifier.sandbox import preset
from tests.engine.conftest import running_system, write_small_config

ANA, BEN, CLEO = "+32470990201", "+32470990202", "+32470990203"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


async def node_status(runtime: Runtime, activation_id: str, key: str) -> str:
    view = await runtime.service.get_activation(activation_id)  # type: ignore[union-attr]
    assert view is not None
    return next(n.status for n in view.nodes if n.key == key)


async def wait_status(
    runtime: Runtime, activation_id: str, key: str, wanted: str, timeout: float = 30
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if await node_status(runtime, activation_id, key) == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never became {wanted}")


async def test_metrics_match_what_happened(tmp_path: Path) -> None:
    overrides = write_small_config(tmp_path / "cfg")
    async with running_system(tmp_path, scale=600, **overrides) as system:
        sandbox = system.sandbox
        sandbox.personas.add(
            preset("never_answers", ANA),
            preset("confirms", BEN, reply_after=40.0),
            preset("declines", CLEO, reply_after=30.0),
        )
        from notifier.api.tokens import Role, TokenStore

        _, token = await TokenStore(system.db).create("metrics-test", Role.COORDINATOR)  # type: ignore[arg-type]
        base = system.settings.public_base_url
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            started = await client.post(
                "/api/v1/activations",
                json={"tree": "eos", "fields": {"nature": "EOS declarations rejected"}},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert started.status_code == 201, started.text
            eos = started.json()["id"]
            oncall = await system.engine.activate("eos-oncall", ActivationKind.DRILL, {}, started_by="test")  # type: ignore[union-attr]
            await wait_status(system, eos, "eos-lead", "acknowledged")
            # nobody acknowledged (Cleo declined): the node is unreachable, its row says who declined
            await wait_status(system, oncall, "eos-oncall", "unreachable")
            await system.engine.wait_idle()  # type: ignore[union-attr]
            await asyncio.sleep(0.3)  # late status callbacks from the sandbox
            await system.engine.wait_idle()  # type: ignore[union-attr]
            text = (await client.get("/metrics")).text

        assert sample(text, "notifier_activations_started_total", kind="incident") == 1
        assert sample(text, "notifier_activations_started_total", kind="drill") == 1
        # every message and call the sandbox received was counted once, by channel
        assert sample(text, "notifier_messages_total", channel="sms", outcome="queued") == len(
            sandbox.messages
        )
        assert sample(text, "notifier_messages_total", channel="voice", outcome="queued") == len(
            sandbox.calls
        )
        assert sample(text, "notifier_messages_total", channel="email", outcome="queued") == len(
            sandbox.emails
        )
        assert len(sandbox.messages) >= 3 and len(sandbox.calls) >= 1 and len(sandbox.emails) >= 1
        ana_calls = [c for c in sandbox.calls if c.to == ANA]
        assert sample(text, "notifier_messages_total", channel="voice", outcome="no_answer") == len(ana_calls)
        delivered = sample(text, "notifier_messages_total", channel="sms", outcome="delivered")
        assert delivered == len(sandbox.messages)  # every persona's phone accepts SMS
        # one confirmation (Ben) and one decline (Cleo), both by SMS
        assert sample(text, "notifier_acknowledgements_total", channel="sms", response="confirm") == 1
        assert sample(text, "notifier_acknowledgements_total", channel="sms", response="decline") == 1
        assert sample(text, "notifier_time_to_acknowledge_seconds_count", channel="sms") == 1
        ack_seconds = sample(text, "notifier_time_to_acknowledge_seconds_sum", channel="sms")
        # Ben's 40 s reply plus dispatch and webhook latency, which the 600x clock magnifies (1 ms = 0.6 s)
        assert 40 <= ack_seconds < 40 + 900, ack_seconds
        # Ana's SMS wait (5 m) and the email wait (10 m) expired: deadlines fired and were measured
        assert sample(text, "notifier_deadline_lateness_seconds_count") >= 2
        assert sample(text, "notifier_outbox_depth", status="pending") == 0
        assert sample(text, "notifier_outbox_depth", status="sending") == 0
        # webhook latency per route template: replies, status callbacks, the API call
        assert sample(
            text,
            "notifier_http_request_duration_seconds_count",
            route="/webhooks/twilio/sms",
            method="POST",
            status="200",
        ) == len(sandbox.inbound)
        assert (
            sample(
                text,
                "notifier_http_request_duration_seconds_count",
                route="/api/v1/activations",
                method="POST",
                status="201",
            )
            == 1
        )
        assert "/metrics" not in text  # the scrape does not time itself
        assert sample(text, "notifier_mqtt_connected") == 0
        assert not re.search(r"\+\d{8,15}|@example\.org", text)


def test_registries_are_separate_and_mqtt_state_is_settable() -> None:
    first, second = Metrics(), Metrics()
    set_mqtt_connected(first.registry, True)
    set_mqtt_connected(second, False)
    assert first.mqtt_connected._value.get() == 1
    assert second.mqtt_connected._value.get() == 0
    set_mqtt_connected(first, False)
    assert first.mqtt_connected._value.get() == 0
