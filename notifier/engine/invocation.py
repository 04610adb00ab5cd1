"""Starting the call tree an invocation authority confirmed (alert routes with `invoke: ask`).

The question itself is an ordinary activation (`snapshot.compile_invocation`): the planner asks
the authority, escalates to the successors and the coordinator, and records "1" (invoke) or "2"
(stand by). When a step completes a question with "1", this starts the real tree with the
question's fields, `started_by` naming the question, and `invoked_by` naming who decided and in
which role. The start happens after the step committed; so that a crash in between cannot lose it,
the engine looks again at every completed question when it starts (`recover`), and a question
whose tree already exists is never started twice.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.events import Completed
from notifier.domain.snapshot import AUTHORITY_NODE, Snapshot
from notifier.domain.state import ActivationState, NodeState
from notifier.store import activation_repo, alert_store
from notifier.store.alert_store import IncidentChange

if TYPE_CHECKING:
    from notifier.engine.core import Engine
    from notifier.engine.stepper import StepResult

log = structlog.get_logger("notifier.invocation")

STARTED_BY = "invocation:"


class Invoker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tasks: set[asyncio.Task[str | None]] = set()

    def on_step(self, result: StepResult) -> None:
        """Step listener: a question answered "1" starts its tree."""
        if not any(isinstance(action, Completed) for action in result.actions):
            return
        node = result.state.nodes.get(AUTHORITY_NODE)
        if node is None or node.status != "acknowledged":
            return
        task = asyncio.get_running_loop().create_task(self.start_confirmed(result.activation_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def recover(self) -> None:
        """Start the tree of every question confirmed before a crash whose tree never started."""
        async with self.engine.db.connect() as conn:
            questions = await activation_repo.completed_questions(conn)
        for question_id in questions:
            await self.start_confirmed(question_id)

    async def start_confirmed(self, question_id: str) -> str | None:
        """The started activation's id, or None (not a confirmed question, or already started).

        The check and the start are one transaction holding the question's row, so two instances
        (one's step listener, another's `recover` at start-up) cannot both start the tree; the
        incident whose alerts raised the question is pointed at the tree in the same commit, so its
        later alerts join the tree and its resolve applies the route's `on_resolved` to the tree
        (not to the question, which is over)."""
        engine = self.engine
        async with engine.db.connect() as conn:  # cheap checks first; the tree compiled outside locks
            confirmed = await self._confirmed(conn, question_id)
        if confirmed is None:
            return None
        row, snapshot, node = confirmed
        invokes = snapshot.invokes
        assert invokes is not None and node.acked_by is not None
        person = snapshot.people.get(node.acked_by)
        name = person.name if person else node.acked_by
        invocation = engine.config.plan.organisation.invocation
        role = engine.config.plan.role(invocation.authority_role) if invocation else None
        in_role = invokes.authority if role is None or node.acked_by in role.holders else "coordinator"
        invoked_by = f"{name} ({in_role})"
        try:
            tree = engine.prepare(invokes.tree_id, invokes.kind, invokes.policy)
            async with engine.stepper.unit() as unit:
                conn = unit.conn
                if await activation_repo.lock_activation(conn, question_id) is None:
                    return None
                if await self._confirmed(conn, question_id) is None:  # started meanwhile
                    return None
                now = engine.clock.now()
                activation_id = await engine.start_in(
                    unit,
                    tree,
                    invokes.kind,
                    {str(k): str(v) for k, v in (row.fields or {}).items()},
                    started_by=STARTED_BY + question_id,
                    reason=f"invoked by {invoked_by} (question ref {row.ref}): {row.reason}",
                    invoked_by=invoked_by,
                )
                incident = await alert_store.incident_for_activation(conn, question_id)
                if incident is not None:
                    change = IncidentChange(activation_id=activation_id)
                    await alert_store.update_incident(conn, incident.key, now, change)
                outcome = f"{invokes.tree_name} started: activation {activation_id}"
                entry = {
                    "activation_id": question_id,
                    "at": now,
                    "step": "tree started",
                    "who": node.acked_by,
                }
                await activation_repo.insert_log(conn, [{**entry, "outcome": outcome, "problem": None}])
        except Exception:
            log.exception("the invoked call tree could not be started", question=question_id)
            return None
        log.info("invoked call tree started", question=question_id, activation_id=activation_id)
        return activation_id

    @staticmethod
    async def _confirmed(conn: AsyncConnection, question_id: str) -> tuple[Any, Snapshot, NodeState] | None:
        """The question's row, snapshot and authority node, when it was answered "1" and its tree
        was not started yet."""
        row = await activation_repo.load_activation_row(conn, question_id)
        if row is None:
            return None
        snapshot = Snapshot.model_validate(row.snapshot)
        node = ActivationState.model_validate(row.state).nodes.get(AUTHORITY_NODE)
        if snapshot.invokes is None or node is None or node.status != "acknowledged" or not node.acked_by:
            return None
        if await activation_repo.started_by(conn, STARTED_BY + question_id) is not None:
            return None
        return row, snapshot, node
