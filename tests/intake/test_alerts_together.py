"""`EngineService.submit_alerts_together`, which the MQTT intake stores its groups with: the same
receipts as one alert at a time, in one transaction that stores all of them or none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from notifier.api.engine_api import StoreUnavailable
from notifier.clock import RealClock
from notifier.domain.alerts import Alert, parse_native
from notifier.runtime import Runtime
from notifier.store.engine_tables import activations, alerts
from tests.engine.conftest import ROOT, running_system

# SEED's alerts close their activation when resolved: a firing after that starts a new one
ROUTES = """
routes:
  - {id: seed-down, match: {services: [SEED]}, calltree: taxud-crisis, policy: urgent, on_resolved: close}
  - {id: eos-down, match: {services: [EOS]}, calltree: taxud-crisis, policy: standard, on_resolved: announce}
  - {id: taric-down, match: {services: [TARIC]}, calltree: taxud-crisis, policy: standard}
"""


def trees(tmp_path: Path) -> list[Path]:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    return [p for p in sorted((ROOT / "calltrees").glob("*.yaml")) if p.name != "routes.yaml"] + [routes]


def native(key: str, service: str = "SEED", status: str = "firing") -> Alert:
    item = {"service": service, "severity": "critical", "summary": f"{service} down", "dedup_key": key}
    return parse_native({**item, "status": status}, received_at=RealClock().now(), source="mqtt")


SEQUENCE = [
    native("seed-1"),
    native("lab-1", service="TEST-LAB"),
    native("eos-1", service="EOS"),
    native("seed-1"),  # a repeat: the same activation
    native("eos-1", service="EOS", status="resolved"),  # announced, stays open
    native("seed-1", status="resolved"),  # closes it
    native("seed-1"),  # after its resolved, as one at a time sees it: a new activation
    native("eos-1", service="EOS"),
    native("nobody", service="NO-SUCH-SERVICE"),
]


def shape(receipts: list[Any]) -> list[tuple[str, int | None]]:
    """Statuses, with activation ids replaced by their order of appearance."""
    seen: dict[str, int] = {}
    return [
        (r.status, seen.setdefault(r.activation_id, len(seen)) if r.activation_id else None) for r in receipts
    ]


async def counts(runtime: Runtime) -> tuple[int, int]:
    assert runtime.db is not None
    async with runtime.db.connect() as conn:
        stored = (await conn.execute(select(func.count()).select_from(alerts))).scalar_one()
        started = (await conn.execute(select(func.count()).select_from(activations))).scalar_one()
    return stored, started


async def test_together_gives_the_receipts_of_one_at_a_time(tmp_path: Path) -> None:
    paths = trees(tmp_path)
    async with running_system(tmp_path / "one", calltree_paths=paths) as one:
        assert one.service is not None
        singly = await one.service.submit_alerts(SEQUENCE)
        expected = await counts(one)
    async with running_system(tmp_path / "together", calltree_paths=paths) as together:
        assert together.service is not None
        grouped = await together.service.submit_alerts_together(SEQUENCE)
        assert await counts(together) == expected
    assert (
        shape(grouped)
        == shape(singly)
        == [
            ("started", 0),
            ("unrouted", None),
            ("started", 1),
            ("duplicate", 0),
            ("resolved", 1),
            ("resolved", 0),
            ("started", 2),
            ("joined", 1),  # EOS fires again soon after it resolved: the same outage, still open
            ("unrouted", None),
        ]
    )


async def test_together_stores_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_system(tmp_path, calltree_paths=trees(tmp_path)) as runtime:
        assert runtime.service is not None and runtime.engine is not None
        engine = runtime.engine
        real_start_in = engine.start_in
        calls = 0

        async def failing_second(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise OperationalError("INSERT", {}, Exception("disk I/O error"))
            return await real_start_in(*args, **kwargs)

        monkeypatch.setattr(engine, "start_in", failing_second)
        # three outages (one alert of the same service would join the first one's activation)
        burst = [native(f"{s.lower()}-1", service=s) for s in ("SEED", "EOS", "TARIC")]
        with pytest.raises(StoreUnavailable):
            await runtime.service.submit_alerts_together(burst)
        assert await counts(runtime) == (0, 0)  # the first alert went back with the second

        monkeypatch.setattr(engine, "start_in", real_start_in)
        receipts = await runtime.service.submit_alerts_together(burst)  # the retry stores each once
        assert [r.status for r in receipts] == ["started"] * 3
        assert await counts(runtime) == (3, 3)
        await engine.wait_idle()
