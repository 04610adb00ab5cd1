"""The planner's scratchpad for one step: a mutable copy of the state plus the actions so far.

The state models are frozen so that a stored state can never be changed by accident; while
deciding one event, though, the rules in `planner.py` make many small changes. `Work` keeps those
changes in plain dicts, records every action in order, and freezes the result once at the end.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from notifier.domain.events import Action, Log, MessageKind, Schedule, Send, Unschedule, Withdraw
from notifier.domain.plan import ChannelKind, ContactMethod
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import (
    ActivationState,
    ActivationStatus,
    AttemptState,
    NodeState,
    PersonCursor,
    address_key,
)

_DEFAULT_VALIDITY_S = 1800


class Work:
    def __init__(self, snapshot: Snapshot, state: ActivationState, now: datetime) -> None:
        self.snap = snapshot
        self.now = now
        self._base = state
        self.status: ActivationStatus = state.status
        self.started = state.started
        self.started_at = state.started_at
        self.completed_at = state.completed_at
        self.closed_at = state.closed_at
        self.time_limit_passed = state.time_limit_passed
        self.exhausted = state.exhausted
        self.nodes: dict[str, NodeState] = dict(state.nodes)
        self.cursors: dict[str, PersonCursor] = dict(state.cursors)
        self.attempts: dict[str, AttemptState] = dict(state.attempts)
        self.counter = state.counter
        self.reached: list[str] = list(state.reached)
        self.dead: list[str] = list(state.dead_addresses)
        self.outages: list[str] = list(state.provider_outages)
        self.start_left = state.start_left
        self.actions: list[Action] = []
        # Indexes built on first use and kept up to date by the methods below, so that an event
        # costs O(1) instead of a scan of every cursor or attempt (a 10,000-person broadcast brings
        # tens of thousands of events). Only this class may add cursors or attempts.
        self._reached_set = set(self.reached)
        self._dead_set = set(self.dead)
        self._by_person: dict[str, list[str]] | None = None
        self._by_node: dict[str, list[str]] | None = None
        self._attempts_by_person: dict[str, list[str]] | None = None
        self._acked: int | None = None
        #: a node that showed, at the last completion check, that the tree is not done; re-checked
        #: first (see completion.py), so that most checks cost O(1) instead of a walk of every node
        self.witness: dict[str, int] = {}
        self.node_keys: tuple[str, ...] = tuple(self.nodes)
        #: keys written in this step, per collection, in the order first written (a new key's first
        #: write is its insertion): what the step changed, without comparing whole states
        self.changed: dict[str, dict[str, None]] = {"nodes": {}, "cursors": {}, "attempts": {}}

    # --- state -----------------------------------------------------------------------------------

    def set_node(self, key: str, **changes: Any) -> None:
        old = self.nodes[key]
        new = old.model_copy(update=changes)
        self.nodes[key] = new
        self.changed["nodes"][key] = None
        if self._acked is not None:
            self._acked += (new.status == "acknowledged") - (old.status == "acknowledged")

    def acknowledged_nodes(self) -> int:
        if self._acked is None:
            self._acked = sum(1 for n in self.nodes.values() if n.status == "acknowledged")
        return self._acked

    def add_cursor(self, key: str, cursor: PersonCursor) -> None:
        """A new cursor (a person's escalation in a node starts)."""
        is_new = key not in self.cursors
        self.cursors[key] = cursor
        self.changed["cursors"][key] = None
        if is_new and self._by_person is not None and self._by_node is not None:
            self._by_person.setdefault(cursor.person, []).append(key)
            self._by_node.setdefault(cursor.node, []).append(key)

    def _cursor_indexes(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._by_person is None or self._by_node is None:
            self._by_person, self._by_node = {}, {}
            for key, cursor in self.cursors.items():
                self._by_person.setdefault(cursor.person, []).append(key)
                self._by_node.setdefault(cursor.node, []).append(key)
        return self._by_person, self._by_node

    def cursor_keys_of(self, person: str) -> list[str]:
        """The keys of `person`'s cursors, oldest first."""
        return list(self._cursor_indexes()[0].get(person, ()))

    def attempts_of(self, person: str) -> list[AttemptState]:
        """`person`'s attempts, oldest first."""
        if self._attempts_by_person is None:
            self._attempts_by_person = {}
            for attempt_id, attempt in self.attempts.items():
                self._attempts_by_person.setdefault(attempt.person, []).append(attempt_id)
        return [self.attempts[a] for a in self._attempts_by_person.get(person, ())]

    @property
    def dead_keys(self) -> AbstractSet[str]:
        """The `address_key`s found invalid or opted out in this activation (read-only view)."""
        return self._dead_set

    def set_cursor(self, key: str, **changes: Any) -> PersonCursor:
        cursor = self.cursors[key].model_copy(update=changes)
        self.cursors[key] = cursor
        self.changed["cursors"][key] = None
        return cursor

    def stop_cursor(self, key: str, status: str) -> PersonCursor:
        """Leave `notifying`: bump the fence so a deadline in flight is stale, drop the deadline, and
        withdraw the attempt's message if it is still queued (it no longer matters)."""
        cursor = self.cursors[key]
        was_notifying = cursor.status == "notifying"
        if cursor.attempt is not None:
            self.withdraw(cursor.attempt)
        cursor = self.set_cursor(key, status=status, fence=cursor.fence + 1, attempt=None, due_at=None)
        if was_notifying:
            self.unschedule(cursor.deadline_key)
        return cursor

    def withdraw(self, attempt_id: str) -> None:
        """An escalation attempt the provider has not taken yet stopped mattering: take it out of the
        queue. A sender that already has it finishes; its answer then marks it sent after the stop."""
        attempt = self.attempts.get(attempt_id)
        if attempt is not None and attempt.status == "queued":
            self.set_attempt(attempt_id, status="withdrawn", ended_at=self.now)
            self.actions.append(Withdraw(attempt_id=attempt_id))

    def set_attempt(self, attempt_id: str, **changes: Any) -> AttemptState:
        attempt = self.attempts[attempt_id].model_copy(update=changes)
        self.attempts[attempt_id] = attempt
        self.changed["attempts"][attempt_id] = None
        return attempt

    def reach(self, person: str) -> None:
        if person not in self._reached_set:
            self._reached_set.add(person)
            self.reached.append(person)

    def mark_dead(self, channel: ChannelKind, address: str) -> None:
        key = address_key(channel, address)
        if key not in self._dead_set:
            self._dead_set.add(key)
            self.dead.append(key)

    def cursors_of(self, node: str) -> list[tuple[str, PersonCursor]]:
        return [(key, self.cursors[key]) for key in self._cursor_indexes()[1].get(node, ())]

    def result(self) -> ActivationState:
        return self._base.model_copy(
            update={
                "status": self.status,
                "started": self.started,
                "started_at": self.started_at,
                "completed_at": self.completed_at,
                "closed_at": self.closed_at,
                "time_limit_passed": self.time_limit_passed,
                "exhausted": self.exhausted,
                "nodes": self.nodes,
                "cursors": self.cursors,
                "attempts": self.attempts,
                "counter": self.counter,
                "reached": tuple(self.reached),
                "dead_addresses": tuple(self.dead),
                "provider_outages": tuple(self.outages),
                "start_left": self.start_left,
            }
        )

    # --- actions ---------------------------------------------------------------------------------

    def log(self, step: str, who: str | None, outcome: str, problem: str | None = None) -> None:
        self.actions.append(Log(step=step, who=who, outcome=outcome, problem=problem))

    def schedule(self, key: str, due_at: datetime, fence: int) -> None:
        self.actions.append(Schedule(key=key, due_at=due_at, fence=fence))

    def unschedule(self, key: str) -> None:
        self.actions.append(Unschedule(key=key))

    def send(
        self,
        person: str,
        node: str,
        contact: ContactMethod,
        kind: MessageKind,
        extra: dict[str, str],
    ) -> AttemptState:
        """Record a new attempt (id from the counter, so replays give the same ids) and send it."""
        self.counter += 1
        attempt = AttemptState(
            id=f"a{self.counter}",
            person=person,
            node=node,
            channel=contact.kind,
            address=contact.address,
            started_at=self.now,
            purpose=kind,
        )
        self.attempts[attempt.id] = attempt
        self.changed["attempts"][attempt.id] = None
        if self._attempts_by_person is not None:
            self._attempts_by_person.setdefault(person, []).append(attempt.id)
        validity: int | None = None
        if contact.kind is not ChannelKind.EMAIL:
            snap_node = self.snap.nodes.get(node)
            validity = (
                int(snap_node.policy.validity_period.total_seconds()) if snap_node else _DEFAULT_VALIDITY_S
            )
        self.actions.append(
            Send(
                attempt_id=attempt.id,
                person_id=person,
                node_key=node,
                channel=contact.kind,
                address=contact.address,
                message_kind=kind,
                extra=extra,
                validity_period_s=validity,
            )
        )
        return attempt
