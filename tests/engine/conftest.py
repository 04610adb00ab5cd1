"""A whole system in-process: migrated SQLite, the example plan and trees, the sandbox, the engine,
the HTTP server on a free port, and a clock running `scale` times faster than the wall."""

from __future__ import annotations

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


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[Runtime]:
    from notifier.runtime import make_clock

    port = free_port()
    settings = system_settings(tmp_path, port)
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, make_clock(settings))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop(timeout=5)
