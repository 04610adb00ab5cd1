"""Console pages over plain HTTP against a real daemon in-process: what they say and refuse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from notifier.api.tokens import Role, TokenStore
from notifier.domain.calltree import ActivationKind
from tests.console.http_session import csrf, sign_in, visible
from tests.engine.conftest import running_system, write_small_config


async def test_next_escalation_names_the_people_waited_for_not_the_time_limit(tmp_path: Path) -> None:
    # wall-speed clock: Cleo's 5-minute SMS wait and the tree's time limit are both pending
    async with running_system(tmp_path, scale=1.0, **write_small_config(tmp_path / "cfg")) as daemon:
        assert daemon.engine is not None and daemon.db is not None
        _record, token = await TokenStore(daemon.db).create("coordinator", Role.COORDINATOR)
        activation_id = await daemon.engine.activate(
            "eos-oncall", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t"
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as browser:
            await sign_in(browser, token)
            for _ in range(100):  # the first step (SMS sent, wait scheduled) commits just after the start
                shown = visible((await browser.get(f"/console/activations/{activation_id}")).text)
                if "Next escalation" in shown:
                    break
                await asyncio.sleep(0.05)
            assert "if Cleo Weber (EOS on-call) has not answered, the next attempt" in shown, shown
            assert "time_limit" not in shown


async def test_a_start_the_engine_would_not_run_as_given_is_refused(tmp_path: Path) -> None:
    async with running_system(tmp_path, scale=1.0, **write_small_config(tmp_path / "cfg")) as daemon:
        assert daemon.db is not None and daemon.service is not None
        _record, token = await TokenStore(daemon.db).create("coordinator", Role.COORDINATOR)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as browser:
            await sign_in(browser, token)
            form = {
                "csrf": csrf((await browser.get("/console/start")).text),
                "confirm": "yes",
                "tree": "eos",
                "kind": "incidnet",
                "field_nature": "EOS down",
            }
            refused = await browser.post("/console/start", data=form)
            assert refused.status_code == 422
            assert "Choose a kind: incident, drill, test." in visible(refused.text)
            # a text beyond the API's limit is refused by name, never cut and started
            long = {**form, "kind": "incident", "field_nature": "EOS down. " + "x" * 2100}
            too_long = await browser.post("/console/start", data=long)
            assert too_long.status_code == 422
            assert "fields.nature: 2110 characters (at most 2000)" in visible(too_long.text)
            assert await daemon.service.list_activations(None, 10) == []


async def test_the_now_page_shows_each_open_activation_as_a_card(tmp_path: Path) -> None:
    """A viewer's Now page: the card's fields and counts (the fragment carries nothing more)."""
    async with running_system(tmp_path, scale=1.0, **write_small_config(tmp_path / "cfg")) as daemon:
        assert daemon.engine is not None and daemon.db is not None and daemon.service is not None
        _record, token = await TokenStore(daemon.db).create("viewer", Role.VIEWER)
        activation_id = await daemon.engine.activate(
            "eos", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t"
        )
        view = await daemon.service.get_activation(activation_id)
        assert view is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as browser:
            await sign_in(browser, token)
            shown = visible((await browser.get("/console/now/live-fragment")).text)
            assert f"ref {view.ref}" in shown and "started" in shown and "pending" in shown, shown
            assert "Ana Novak" not in shown


async def test_a_text_beyond_the_apis_limit_is_refused_not_cut(tmp_path: Path) -> None:
    async with running_system(tmp_path, scale=1.0, **write_small_config(tmp_path / "cfg")) as daemon:
        assert daemon.engine is not None and daemon.db is not None and daemon.service is not None
        _record, token = await TokenStore(daemon.db).create("coordinator", Role.COORDINATOR)
        activation_id = await daemon.engine.activate(
            "eos", ActivationKind.INCIDENT, {"nature": "EOS down"}, started_by="t"
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.settings.http_port}") as browser:
            await sign_in(browser, token)
            page = await browser.get(f"/console/activations/{activation_id}")
            form = {"csrf": csrf(page.text), "reason": "Duplicate of K7Q. " + "x" * 2000}
            refused = await browser.post(f"/console/activations/{activation_id}/cancel", data=form)
            assert refused.status_code == 422
            assert "reason: 2018 characters (at most 2000)" in visible(refused.text)
        view = await daemon.service.get_activation(activation_id)
        assert view is not None and view.status == "open"
