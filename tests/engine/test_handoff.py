"""Rows a step claims for the dispatcher in its own transaction (notifier/engine/writes.py).

Against the real store: a step that sends claims as many rows as the in-flight window has room for
(`sending`, this worker, a lease) and hands them over only after its commit; the rest stay
`pending` for the dispatcher's claim loop; a step whose transaction fails hands nothing over and
gives its places back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier.domain.calltree import ActivationKind
from notifier.store import outbox_repo
from notifier.store.engine_tables import outbox
from tests.engine.conftest import running_system


class Recorder:
    """Stands in for the dispatcher's side of the hand-off, with a window of `room` places."""

    worker = "w-recorder"
    lease = timedelta(hours=1)  # the real dispatcher must not take these rows back during the test

    def __init__(self, room: int) -> None:
        self.room = room
        self.started: list[outbox_repo.OutboxRow] = []
        self.given_back = 0

    def reserve(self, wanted: int) -> int:
        taken = min(wanted, self.room)
        self.room -= taken
        return taken

    def unreserve(self, count: int) -> None:
        self.given_back += count
        self.room += count

    def start(self, rows: Sequence[outbox_repo.OutboxRow], opted_out: set[str]) -> None:
        self.started.extend(rows)

    def withdrawn(self, activation_id: str, attempt_ids: Sequence[str]) -> None:
        pass


async def test_a_step_claims_what_fits_and_hands_it_over_after_commit(tmp_path: Path) -> None:
    async with running_system(tmp_path) as runtime:
        engine = runtime.engine
        assert engine is not None
        recorder = Recorder(room=3)
        engine.stepper.handoff = recorder
        activation_id = await engine.activate("all-staff", ActivationKind.INCIDENT, started_by="test")
        async with engine.db.connect() as conn:
            rows = (await conn.execute(select(outbox).where(outbox.c.activation_id == activation_id))).all()
        claimed = [r for r in rows if r.claimed_by == recorder.worker]
        assert len(rows) > 3 and len(claimed) == 3
        assert all(r.status == "sending" and r.tries == 1 and r.lease_until is not None for r in claimed)
        assert sorted(r.id for r in recorder.started) == sorted(r.id for r in claimed)
        first_ids = sorted(r.id for r in rows)[:3]  # the first sends of the step, in order
        assert sorted(r.id for r in claimed) == first_ids


async def test_a_failed_step_hands_nothing_over_and_gives_its_places_back(tmp_path: Path) -> None:
    async with running_system(tmp_path) as runtime:
        engine = runtime.engine
        assert engine is not None
        recorder = Recorder(room=5)
        engine.stepper.handoff = recorder
        snapshot = engine.prepare("all-staff", ActivationKind.INCIDENT)
        started: list[str] = []
        with pytest.raises(RuntimeError):
            async with engine.stepper.unit() as unit:
                started.append(
                    await engine.start_in(
                        unit, snapshot, ActivationKind.INCIDENT, None, started_by="test", reason=""
                    )
                )
                assert recorder.room == 0  # the step took all five places
                raise RuntimeError("the store went away before the commit")
        assert recorder.started == [] and recorder.given_back == 5 and recorder.room == 5
        async with engine.db.connect() as conn:
            left = (await conn.execute(select(outbox.c.id).where(outbox.c.activation_id == started[0]))).all()
        assert left == []
