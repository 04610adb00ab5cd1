"""A whole system in-process: migrated SQLite, the example plan and trees, the sandbox, the engine,
the HTTP server on a free port, and a clock running `scale` times faster than the wall."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from notifier.runtime import Runtime
from notifier.settings import Settings
from notifier.store.db import upgrade_async

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def system_settings(tmp_path: Path, port: int, scale: float = 600.0, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        "plan_paths": [ROOT / "config" / "plan.yaml"],
        "calltree_paths": [ROOT / "calltrees"],
        "public_base_url": f"http://127.0.0.1:{port}",
        "http_port": port,
        "sandbox": True,
        "clock_scale": scale,
        "secret_key": "test-secret",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_system(tmp_path: Path, scale: float = 600.0, **overrides: object) -> AsyncIterator[Runtime]:
    """A whole system on custom settings (e.g. a small plan written by the test)."""
    from notifier.runtime import make_clock

    port = free_port()
    settings = system_settings(tmp_path, port, scale=scale, **overrides)
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, make_clock(settings))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop(timeout=5)


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The example plan and call trees, 600x clock."""
    async with running_system(tmp_path) as runtime:
        yield runtime


SMALL_PLAN = """
organisation:
  name: EOS continuity
  timezone: Europe/Brussels
  message_defaults: {convene: "Bridge 1, now", instructions: Reply when you can, scenario: Trial run}
people:
  - id: ana
    name: Ana Novak
    contacts:
      - {kind: sms, address: "+32470990201", label: mobile}
      - {kind: voice, address: "+32470990201", label: mobile}
      - {kind: email, address: ana.novak@example.org}
  - id: ben
    name: Ben Peeters
    contacts:
      - {kind: sms, address: "+32470990202", label: mobile}
      - {kind: voice, address: "+32470990202", label: mobile}
      - {kind: email, address: ben.peeters@example.org}
  - id: cleo
    name: Cleo Weber
    contacts:
      - {kind: sms, address: "+32470990203", label: mobile}
      - {kind: voice, address: "+32470990203", label: mobile}
      - {kind: email, address: cleo.weber@example.org}
roles:
  - {id: eos-lead, name: EOS recovery lead, primary: ana, alternates: [ben]}
  - {id: eos-oncall, name: EOS on-call, primary: cleo}
"""

SMALL_TREES = """
policies:
  - id: p
    methods: [{kind: sms, wait: 5m}, {kind: voice, wait: 3m}, {kind: email, wait: 10m}]
    respect_hours: false
calltrees:
  - id: eos
    name: EOS recovery
    mode: broadcast
    policy: p
    nodes:
      - role: eos-lead
  - id: eos-oncall
    name: EOS on-call
    mode: broadcast
    policy: p
    templates:
      which_one: {sms: "Which EOS call? {incidents}. Reply 1 and its ref"}
    nodes:
      - role: eos-oncall
  - id: eos-first
    name: EOS first responder
    mode: broadcast
    completion: {rule: first}
    policy: p
    nodes:
      - role: eos-lead
      - role: eos-oncall
"""


def write_small_config(directory: Path) -> dict[str, object]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plan.yaml").write_text(SMALL_PLAN)
    (directory / "trees.yaml").write_text(SMALL_TREES)
    return {"plan_paths": [directory / "plan.yaml"], "calltree_paths": [directory / "trees.yaml"]}
