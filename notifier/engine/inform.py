"""Informed channels: what a step posts to the `notify:` targets of its call tree and nodes.

Rules (one post per target for each):

* the activation starts (the step that handled `Start`);
* an update is announced (`Announce`): its message;
* the tree completes (open -> completed), with how many people confirmed;
* the activation is closed (return to normal) or cancelled.

The posts are outbox rows of the channel `chat`, written in the step's own transaction (so a
crash loses none), untracked: no planner waits for them and nothing that comes back from a chat
room counts as an acknowledgement. They are sent by the `chat` failover chain (Apprise). The
targets are read from the call tree as configured now (a target renamed while an activation runs
takes effect at once, which is what a war room wants).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.calltree import CallTree, Node, TreeSet
from notifier.domain.events import Announce, Event, Start
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState
from notifier.store import outbox_repo

CHAT = "chat"


def targets(tree: CallTree) -> list[str]:
    """The tree's `notify:` targets, then its nodes' (depth first), each once."""
    found = list(tree.notify)

    def walk(nodes: Sequence[Node]) -> None:
        for node in nodes:
            found.extend(node.notify)
            walk(node.children)

    walk(tree.nodes)
    return list(dict.fromkeys(found))


def posts(
    snapshot: Snapshot,
    ref: str,
    fields: dict[str, Any],
    before: ActivationState,
    after: ActivationState,
    events: Sequence[Event],
) -> list[tuple[str, str]]:
    """(subject, text) of what this step announces, in the order it happened."""
    kind = snapshot.kind.value.capitalize()
    head = f"{kind} {ref}: {snapshot.tree_name}"
    found: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, Start):
            nature = str(fields.get("nature", "") or "")
            found.append((f"{head} activated", f"{head} activated. {nature}".strip()))
        elif isinstance(event, Announce):
            found.append((f"{head} update", f"{head} update: {event.message}"))
    if before.status == "open" and after.status == "completed":
        confirmed = sum(1 for n in after.nodes.values() if n.status == "acknowledged")
        text = f"{head} completed: {confirmed} of {len(after.nodes)} nodes confirmed."
        found.append((f"{head} completed", text))
    if before.status != "closed" and after.status == "closed":
        found.append((f"{head} closed", f"{head} closed: return to normal operations."))
    if before.status != "cancelled" and after.status == "cancelled":
        found.append((f"{head} cancelled", f"{head} cancelled."))
    return found


class Informer:
    """Writes the posts of a step as outbox rows (the `Stepper.informer` hook)."""

    def __init__(self, trees: Callable[[], TreeSet]) -> None:
        self.trees = trees

    async def write(
        self,
        conn: AsyncConnection,
        row: Any,
        snapshot: Snapshot,
        before: ActivationState,
        after: ActivationState,
        events: Sequence[Event],
        now: datetime,
    ) -> bool:
        # most steps (status callbacks, deadlines) announce nothing: decide that first, in O(1)
        messages = posts(snapshot, row.ref, dict(row.fields or {}), before, after, events)
        if not messages:
            return False
        tree = self.trees().tree(snapshot.tree_id)
        where = targets(tree) if tree is not None else []
        if not where:
            return False
        rows = [
            {
                "activation_id": row.id,
                "attempt_id": f"n{row.revision + 1}-{i}-{j}",
                "person_id": "",
                "channel": CHAT,
                "address": target,
                "message_kind": "inform",
                "message": {"text": text, "subject": subject},
                "tracked": 0,
                "status": "pending",
                "not_before": now,
                "tries": 0,
                "created_at": now,
            }
            for i, (subject, text) in enumerate(messages)
            for j, target in enumerate(where)
        ]
        await outbox_repo.insert_outbox(conn, rows)
        return bool(rows)
