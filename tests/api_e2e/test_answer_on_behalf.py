"""An answer entered on someone's behalf says what it really did, in the words of the report.

`notifier ack` and the console's Acknowledge button on an activation that is already completed (or
for someone already answered) record the answer and change nothing: they say so, instead of
"acknowledged for X". Statuses read as a coordinator would say them ("not contacted", never the
engine's `not_contacted`), in the CLI and in the console alike. A real daemon in-process (HTTP on a
free port); the CLI runs in a thread against it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from notifier.api.tokens import Role, TokenStore
from notifier.cli import app
from notifier.domain.calltree import ActivationKind
from notifier.runtime import Runtime
from tests.console.http_session import csrf, sign_in, visible
from tests.engine.conftest import running_system, write_small_config


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_system(tmp_path, scale=600.0, **write_small_config(tmp_path / "cfg")) as runtime:
        yield runtime


async def _cli(runtime: Runtime, token: str, *args: str) -> tuple[int, str]:
    """The exit code and what the CLI printed (the in-process daemon's log lines, which share
    stdout here, left out)."""
    env = {"NOTIFIER_API_URL": f"http://127.0.0.1:{runtime.settings.http_port}", "NOTIFIER_API_TOKEN": token}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    lines = [line for line in result.stdout.splitlines() if not _LOG_LINE.match(line)]
    return result.exit_code, "\n".join(lines)


_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def test_an_answer_on_a_completed_activation_says_nothing_changed(daemon: Runtime) -> None:
    assert daemon.engine is not None and daemon.db is not None
    _record, token = await TokenStore(daemon.db).create("coordinator", Role.COORDINATOR)
    # tree `eos`: one node, Ana its primary and Ben her alternate
    activation_id = await daemon.engine.activate(
        "eos", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t"
    )

    code, acked = await _cli(daemon, token, "ack", activation_id, "ana")
    assert code == 0, acked
    assert acked.startswith(f"acknowledged for ana on activation {activation_id}"), acked
    assert acked.endswith(": acknowledged; activation completed"), acked

    code, late = await _cli(daemon, token, "ack", activation_id, "ben")
    assert code == 0, late
    assert late.startswith(f"recorded for ben on activation {activation_id}"), late
    assert late.endswith("; the activation is already completed: nothing changed (not contacted)"), late
    code, again = await _cli(daemon, token, "ack", activation_id, "ana", "--decline")
    assert code == 0 and again.startswith("recorded for ana"), again
    assert again.endswith("nothing changed (acknowledged)"), again

    code, status = await _cli(daemon, token, "status", activation_id)
    assert code == 0, status
    assert "not contacted" in status and "not_contacted" not in status, status

    base = f"http://127.0.0.1:{daemon.settings.http_port}"
    async with httpx.AsyncClient(base_url=base) as browser:
        await sign_in(browser, token)
        page = await browser.get(f"/console/activations/{activation_id}")
        assert page.status_code == 200
        shown = visible(page.text)
        assert "not contacted" in shown and "not_contacted" not in shown
        answer = {"csrf": csrf(page.text), "person": "ben", "response": "ack"}
        posted = await browser.post(f"/console/activations/{activation_id}/ack", data=answer)
        assert posted.status_code == 303
        assert posted.headers["location"] == f"/console/activations/{activation_id}?done=unchanged"
        after = await browser.get(posted.headers["location"])
        assert "nothing changed" in after.text and "Acknowledgement recorded" not in after.text
