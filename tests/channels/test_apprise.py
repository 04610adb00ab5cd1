"""Informed channels through Apprise, posted to a local HTTP receiver (Apprise's json:// and form://).

A war room (tree-level `notify:`) and a team channel (a node's `notify:`, by name from
`providers.apprise.targets`) hear the activation, an update, the completion and the close; nothing
they could send back acknowledges anyone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import Announce
from notifier.runtime import Runtime, make_clock
from notifier.store.db import upgrade_async
from notifier.store.engine_tables import outbox
from tests.engine.conftest import SMALL_PLAN, free_port, system_settings
from tests.waiting import until

TREES = """
policies:
  - id: p
    methods: [{kind: sms, wait: 5m}, {kind: voice, wait: 3m}]
    respect_hours: false
calltrees:
  - id: eos
    name: EOS recovery
    mode: broadcast
    policy: p
    notify: ["json://127.0.0.1:%(port)d/warroom"]
    nodes:
      - role: eos-oncall
        notify: [eos-team]
"""
CLEO = "+32470990203"


class Receiver:
    def __init__(self) -> None:
        self.json: list[dict[str, Any]] = []
        self.form: list[dict[str, str]] = []
        self.port = free_port()

    async def warroom(self, request: web.Request) -> web.Response:
        self.json.append(await request.json())
        return web.Response(text="ok")

    async def team(self, request: web.Request) -> web.Response:
        self.form.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(text="ok")

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/warroom", self.warroom)
        app.router.add_post("/team", self.team)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        return runner


async def test_activation_update_completion_and_close_are_posted_to_the_notify_targets(
    tmp_path: Path,
) -> None:
    receiver = Receiver()
    runner = await receiver.start()
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "plan.yaml").write_text(SMALL_PLAN)
    (cfg / "trees.yaml").write_text(TREES % {"port": receiver.port})
    port = free_port()
    settings = system_settings(
        tmp_path,
        port,
        scale=60.0,
        plan_paths=[cfg / "plan.yaml"],
        calltree_paths=[cfg / "trees.yaml"],
        providers={"apprise": {"targets": {"eos-team": f"form://127.0.0.1:{receiver.port}/team"}}},
    )
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, make_clock(settings))
    await runtime.start()
    try:
        assert runtime.engine is not None and runtime.service is not None and runtime.db is not None
        activation_id = await runtime.engine.activate(
            "eos", ActivationKind.INCIDENT, {"nature": "SEED excise system unavailable"}, started_by="t"
        )
        await until(lambda: receiver.json and receiver.form, "the activation posts")
        assert "activated" in receiver.json[0]["title"] and "SEED excise" in receiver.json[0]["message"]
        assert "activated" in receiver.form[0]["title"]
        await runtime.sandbox.device(CLEO).expect_sms("Reply 1", timeout=10)
        await runtime.engine.handle(
            activation_id, [Announce(by="t", message="SEED is back in read-only mode")]
        )
        await until(lambda: len(receiver.json) >= 2, "the update")
        assert "read-only" in receiver.json[1]["message"]
        await runtime.sandbox.device(CLEO).reply("1")
        await until(lambda: any("completed" in p["title"] for p in receiver.json), "the completion post")
        await runtime.service.close(activation_id, "t", "SEED restored")
        await until(lambda: any("closed" in p["title"] for p in receiver.form), "the close post")
        await until(lambda: len(receiver.json) + len(receiver.form) == 8, "every post")
        for _ in range(100):  # the last result is written just after the post
            async with runtime.db.connect() as conn:
                rows = (await conn.execute(select(outbox).where(outbox.c.channel == "chat"))).all()
            if all(r.status == "sent" for r in rows):
                break
            await asyncio.sleep(0.05)
        assert {(r.tracked, r.provider, r.status) for r in rows} == {(0, "apprise", "sent")}
        assert len(rows) == len(receiver.json) + len(receiver.form) == 8  # 4 posts x 2 targets
        view = await runtime.service.get_activation(activation_id)
        assert view is not None and view.status == "closed"
    finally:
        await runtime.stop(timeout=5)
        await runner.cleanup()
