"""Where an activation stands, per node and per person, for the API, the CLI and reports.

One summary shape for every reader, computed from the snapshot and the state alone, so that
`notifier status`, the HTTP API and the after-action report never disagree about the counts.
Contact addresses are deliberately absent: readers that may see them look them up themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from notifier.domain.plan import ChannelKind, Model
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState, ActivationStatus, NodeStatus

PersonStatus = Literal[
    "not_contacted", "notifying", "acknowledged", "declined", "exhausted", "not_tried", "cancelled"
]
# when someone has cursors in several nodes, the most telling status wins
_PERSON_ORDER: tuple[PersonStatus, ...] = (
    "acknowledged",
    "notifying",
    "declined",
    "exhausted",
    "not_tried",
    "cancelled",
)


class NodeProgress(Model):
    key: str
    label: str
    level: int
    required: bool
    status: NodeStatus
    current_holder: str | None
    acked_by: str | None
    notified_at: datetime | None
    resolved_at: datetime | None


class PersonProgress(Model):
    id: str
    name: str
    nodes: tuple[str, ...]
    status: PersonStatus
    attempts: int
    last_channel: ChannelKind | None
    reached: bool


class Counts(Model):
    nodes: int
    notified: int
    acknowledged: int
    declined: int
    unreachable: int
    pending: int
    cancelled: int
    people_reached: int
    not_tried: int = 0  # no provider took their messages in time (a provider failing): not unreachable


class Progress(Model):
    status: ActivationStatus
    started_at: datetime
    completed_at: datetime | None
    time_limit_passed: bool
    next_due: datetime | None
    nodes: tuple[NodeProgress, ...]
    people: tuple[PersonProgress, ...]
    counts: Counts


#: messages of a node's escalation (they ask for an answer), as opposed to notices and updates
ESCALATION_PURPOSES = frozenset({"activation", "drill"})


class People(Model):
    """Who was notified, reached and is pending: the one definition the API, the CLI, the report
    and the demo use, so that they never disagree (and reached can never exceed notified).

    * **notified**: an escalation message (activation or drill) was sent to them, or they answered
      (a coordinator's answer on their behalf included: the coordinator spoke to them);
    * **reached**: notified, and a message reached them (delivered, answered, voicemail) or they
      answered themselves, or a coordinator acknowledged for them; a decline entered on someone's
      behalf before any message reached them is not "reached" (they get no return to normal);
    * **pending**: being tried now (a message is out, the wait runs) and not answered yet.
    """

    notified: tuple[str, ...]
    reached: tuple[str, ...]
    pending: tuple[str, ...]


def people_of(state: ActivationState) -> People:
    answered = {c.person for c in state.cursors.values() if c.status in ("acknowledged", "declined")}
    sent = {a.person for a in state.attempts.values() if a.node and a.purpose in ESCALATION_PURPOSES}
    everyone = [c.person for c in state.cursors.values()] + [a.person for a in state.attempts.values()]
    order = list(dict.fromkeys(everyone))
    notified = [p for p in order if p in sent or p in answered]
    reached_set = set(state.reached)
    reached = [p for p in notified if p in reached_set]
    pending = [
        p
        for p in dict.fromkeys(c.person for c in state.cursors.values() if c.status == "notifying")
        if p not in answered
    ]
    return People(notified=tuple(notified), reached=tuple(reached), pending=tuple(pending))


def summarise(snapshot: Snapshot, state: ActivationState) -> Progress:
    nodes = []
    for key, node in snapshot.nodes.items():
        node_state = state.nodes[key]
        active = [c.person for c in state.cursors.values() if c.node == key and c.status == "notifying"]
        nodes.append(
            NodeProgress(
                key=key,
                label=node.label,
                level=node.level,
                required=node.required,
                status=node_state.status,
                current_holder=active[0] if active else None,
                acked_by=node_state.acked_by,
                notified_at=node_state.notified_at,
                resolved_at=node_state.resolved_at,
            )
        )
    people = []
    for person_id, person in snapshot.people.items():
        cursors = [c for c in state.cursors.values() if c.person == person_id]
        attempts = sorted(
            (a for a in state.attempts.values() if a.person == person_id), key=lambda a: int(a.id[1:])
        )
        statuses = {c.status for c in cursors}
        status: PersonStatus = next((s for s in _PERSON_ORDER if s in statuses), "not_contacted")
        people.append(
            PersonProgress(
                id=person_id,
                name=person.name,
                nodes=tuple(c.node for c in cursors),
                status=status,
                attempts=len(attempts),
                last_channel=attempts[-1].channel if attempts else None,
                reached=person_id in state.reached,
            )
        )
    node_statuses = [n.status for n in nodes]
    reached_people = people_of(state).reached
    dues = [c.due_at for c in state.cursors.values() if c.status == "notifying" and c.due_at]
    return Progress(
        status=state.status,
        started_at=state.started_at,
        completed_at=state.completed_at,
        time_limit_passed=state.time_limit_passed,
        next_due=min(dues, default=None),
        nodes=tuple(nodes),
        people=tuple(people),
        counts=Counts(
            nodes=len(nodes),
            notified=sum(1 for n in nodes if n.notified_at is not None),
            acknowledged=node_statuses.count("acknowledged"),
            declined=node_statuses.count("declined"),
            unreachable=node_statuses.count("unreachable"),
            pending=node_statuses.count("pending") + node_statuses.count("notifying"),
            cancelled=node_statuses.count("cancelled"),
            people_reached=len(reached_people),
            not_tried=node_statuses.count("not_tried"),
        ),
    )


#: the words a coordinator reads for a status (console, CLI), where the engine's own word is not
#: plain English; the report uses the same ones ("unreachable" for someone every method was tried on)
STATUS_WORDS: dict[str, str] = {
    "not_contacted": "not contacted",
    "notifying": "being tried",
    "exhausted": "unreachable",
    "not_tried": "not tried (provider failing)",
    "no_answer": "no answer",
    "opted_out": "opted out",
}
#: a person's cursor `cancelled` means the tree stopped trying them (it completed or was cancelled)
PERSON_WORDS: dict[str, str] = {**STATUS_WORDS, "cancelled": "stopped"}


def status_word(status: str, person: bool = False) -> str:
    """`status` as a coordinator reads it (a person's status if `person`)."""
    words = PERSON_WORDS if person else STATUS_WORDS
    return words.get(status, status.replace("_", " "))


def answer_outcome(before: frozenset[str], after: frozenset[str], activation_status: str) -> tuple[bool, str]:
    """What an answer entered on someone's behalf did, from their statuses before and after it and
    the activation's status after it: (changed, words). Nothing changes on an activation that is no
    longer open, for someone already answered, or for someone the tree holds no open node for."""
    shown = ", ".join(sorted(status_word(s, person=True) for s in after)) or "not in any node"
    if before != after:
        return True, shown
    if activation_status != "open":
        return False, f"the activation is already {activation_status}: nothing changed ({shown})"
    return False, f"nothing changed: {shown}"
