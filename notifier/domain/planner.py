"""The escalation rules of a call-tree activation: (snapshot, state, event, now) -> (state, actions).

Everything a coordinator would ask "what happens when ..." about is answered in this file. The
engine calls `decide` inside one database transaction per event and performs the returned actions
(outbox rows for `Send`, deadline rows for `Schedule`, activity-log rows for `Log`) in that same
transaction, so this module does no I/O, reads no clock and draws no random numbers.

The rules, in the order an activation meets them:

* **Start** notifies the roots (cascade) or every node (broadcast) and schedules the prescribed
  time limit. Drills and tests send the "drill" message instead of "activation".
* **A large start goes out in chunks.** Start notifies the first `FIRST_CHUNK` of those nodes and
  schedules the `start` deadline at once; each firing notifies the next `NEXT_CHUNK`, in the
  tree's order, until none is left. Each chunk is a step of its own, so the first messages of a
  50,000-person broadcast are committed and leave while the rest are still being planned, and a
  crash mid-start resumes at the next chunk (the deadline is a row; its fence is how many were
  notified, so a repeated firing is stale). Nodes the start has not reached yet are still to be
  notified: the `all` rule waits for them, and nothing is "exhausted" meanwhile. Anything that
  stops the activation (completion, cancel, close, stand down) notifies no more of them.
* **A node** is worked through its role's holders, primary first. **A holder** is worked through
  the node's policy: each method step in order, each of the person's contacts of that kind in
  order, `rounds` times, skipping methods outside their hours (see `hours.py`) and addresses found
  invalid or opted out earlier in this activation. Every attempt sends; the cursor keeps the
  method's wait, and one deadline `ack:<node>/<person>` carrying the cursor's fence.
* **A wait runs from the send, never from queueing.** The acknowledgement wait starts when the
  provider has the message: its answer to the send (accepted), a status callback that overtook that
  answer, or the end of a send whose outcome is unknown. Until then only the *give-up bound* runs:
  the policy's `validity_period` (default 30 min) from queueing. A message the provider has not
  taken by then is *not tried* (logged "not sent"; never an unanswered attempt) and the next
  attempt is tried; a holder or node that was not really tried because of it ends `not_tried`, not
  exhausted or unreachable (the rules are in `untried.py`). Starting the wait
  moves the fence, so a give-up deadline already in flight is stale. Queueing behind a sender's rate
  (a US long code sends 1 SMS/s) thus never counts against the person; the prescribed time limit
  and the reports still measure from the activation's start.
* **A deadline** with the current fence moves to the next attempt; any other is stale and ignored.
* **A provider signal** that certainly failed (invalid number, opted out, failed SMS,
  busy/unanswered/failed call, answering machine or fax) moves to the next attempt at once. An
  "unknown" outcome (timeout, 5xx: it may have been sent) is not retried blindly: the wait runs.
  A delivered email or a voicemail is never an acknowledgement.
* **A provider's failure is not the person's.** A send the provider certainly did not take
  (`not_sent`: refused connection, DNS or TLS failure, 429, a 5xx it documents as not created) is
  retried by the dispatcher on the same attempt, with backoff and jitter; here it only counts and is
  logged once per attempt. The wait has not started and nothing moves on, so a person becomes
  unreachable only after their methods were really tried and went unanswered; an outage longer than
  the give-up bound above ends them `not_tried` (`untried.py`). **A failing provider**
  (`ProviderFailing`, from the dispatcher) is logged and told to the coordinator once per outage,
  by a channel of another provider when they have one;
  the dispatcher names each outage, so one reported again is not told twice.
* **Nothing is sent after it stopped mattering.** When a cursor stops (its node acknowledged, the
  holder answered or was given up on, completion, cancel, close) or moves past an attempt the
  provider has not taken, that queued message is *withdrawn* in the same step (`Withdraw`: the
  engine takes the row out of the queue unless a sender already has it). A withdrawn message that
  a sender had already taken is recorded as *sent after stop*; one the provider refused and the
  dispatcher queued again is withdrawn again. Notices and the all-clear are never withdrawn.
* **Confirm** (SMS, keypress, email link POST, or a coordinator on someone's behalf) acknowledges
  the node, stops its other holders, and in cascade mode notifies its children now. A late confirm
  from a holder we already gave up on still counts.
* **Decline** moves to the next holder at once (`decline_moves_to_alternate`); a holder whose
  methods and rounds are used up moves to the next one (`use_alternates`).
* **No holder left** (or none at all): the node is *unreachable* - whether or not someone declined
  on the way, nobody acknowledged it; its children are notified directly (`skip_level`) and the
  coordinator role's holders and the parent's acknowledging holder are told who was tried, how,
  and what happened (`notify_coordinator`; see `notices.py`).
* **Completion**: `all` = every required node resolved (acknowledged, unreachable or declined);
  `quorum` = N nodes acknowledged; `first` = one. Completion under any rule stops what is still
  running: for `first`/`quorum` the point of the tree is met, and under `all` only nodes marked
  `required: false` can still be running, and "not required" means the tree does not wait for them.
  The coordinator role's holders are told the tree is complete (`completed_notice`). If nothing is
  left to try and the rule is not met, this is logged once and the activation stays open.
* **Time limit** reached: reported (action + log), the activation keeps running.
* **Invocation** (a route with `invoke: ask`): the activation is a question to the plan's
  invocation authority (one node: the authority's primary, its successors, then the coordinator),
  escalated like any node; "1" completes it (the engine then starts the tree), "2" records the
  decision to stand by and tells the coordinator (`completion.stand_by`).
* **Announce** sends an update to everyone reached so far (e.g. monitoring reports recovery), and
  to the coordinator when asked.
* **Stand down** (monitoring reports every alert resolved, route `on_resolved: stand_down`) stops
  escalating to nodes not yet reached and announces to the coordinator and everyone reached; the
  activation stays open for a person to close.
* **Cancel** stops everything. **Close** stops everything and sends the "return to normal" message
  to everyone reached (acknowledged, declined themselves, or had a message delivered - voicemail
  included), never to someone only declined on their behalf (see `progress.people`).
* After completion, cancel or close, replies are logged and change nothing; provider callbacks
  still update the attempt record (they are facts) but move nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notifier.domain import untried
from notifier.domain.calltree import ActivationKind, Mode
from notifier.domain.completion import (
    announce,
    cancel,
    check_completion,
    close_activation,
    rule_met,
    stand_by,
    stand_down,
    time_limit_due,
)
from notifier.domain.durations import format_duration
from notifier.domain.events import (
    AckOnBehalf,
    Action,
    Announce,
    AttemptOutcome,
    Cancel,
    Close,
    DeadlineDue,
    Event,
    MessageKind,
    ProviderFailing,
    ProviderStatus,
    Reply,
    StandDown,
    Start,
)
from notifier.domain.hours import first_reachable, next_choice
from notifier.domain.notices import tried
from notifier.domain.signals import record_signal
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import (
    START_KEY,
    TIME_LIMIT_KEY,
    ActivationState,
    NodeState,
    PersonCursor,
    address_key,
    cursor_key,
)
from notifier.domain.work import Work

#: nodes the start notifies in its own step (enough to fill the senders' window at once), and in
#: each later step of a large start (few steps, each short enough not to hold up the sends)
FIRST_CHUNK = 100
NEXT_CHUNK = 500


@dataclass(frozen=True)
class Decision:
    state: ActivationState
    actions: tuple[Action, ...]
    #: the keys of `nodes`, `cursors` and `attempts` this decision wrote, in the order first written
    changed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def initial_state(snapshot: Snapshot, now: datetime) -> ActivationState:
    """The state before `Start`: every node pending, nothing sent. The pending nodes share one
    (frozen) `NodeState` until each is first changed: 50,000 nodes cost one object, not 50,000."""
    return ActivationState(started_at=_utc(now), nodes=dict.fromkeys(snapshot.nodes, _PENDING))


_PENDING = NodeState()


def decide(snapshot: Snapshot, state: ActivationState | None, event: Event, now: datetime) -> Decision:
    """Apply one event. `state=None` means a new activation (normally with `Start`)."""
    return decide_many(snapshot, state, (event,), now)


def decide_many(
    snapshot: Snapshot, state: ActivationState | None, events: Sequence[Event], now: datetime
) -> Decision:
    """Apply `events` in order, as `decide` would one by one, building the new state only once (a
    burst of status callbacks for a 10,000-person broadcast is one pass, not one copy per event)."""
    now = _utc(now)
    w = Work(snapshot, state if state is not None else initial_state(snapshot, now), now)
    for event in events:
        _apply(w, event)
    changed = {name: tuple(keys) for name, keys in w.changed.items()}
    return Decision(w.result(), tuple(w.actions), changed)


def _apply(w: Work, event: Event) -> None:
    match event:
        case Start():
            _start(w)
        case AttemptOutcome() | ProviderStatus():
            _provider_signal(w, event)
        case ProviderFailing():
            _provider_failing(w, event)
        case Reply():
            _reply(w, event.person_id, event.response, event.channel.value, event.attempt_id, on_behalf=False)
        case AckOnBehalf():
            _reply(w, event.person_id, event.response, f"on behalf, by {event.by}", None, on_behalf=True)
        case DeadlineDue():
            _deadline(w, event)
        case Cancel():
            cancel(w, event)
        case Close():
            close_activation(w, event)
        case Announce():
            announce(w, event)
        case StandDown():
            stand_down(w, event)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- start and nodes ----------------------------------------------------------------------------


def _start(w: Work) -> None:
    if w.started or w.status != "open":
        w.log("start", "system", f"ignored: activation already {'started' if w.started else w.status}")
        return
    snap = w.snap
    w.started, w.started_at = True, w.now
    w.log(
        "activation started",
        "system",
        f"{snap.kind.value} of call tree {snap.tree_name!r} ({snap.mode.value}, "
        f"completion {snap.completion.rule.value}, time limit {format_duration(snap.time_limit)})",
    )
    w.schedule(TIME_LIMIT_KEY, w.now + snap.time_limit, 0)
    w.start_left = len(_start_nodes(w))
    _start_chunk(w, FIRST_CHUNK)
    check_completion(w)


def _start_nodes(w: Work) -> tuple[str, ...]:
    """What the start notifies: the roots (cascade) or every node (broadcast), in the tree's order."""
    return w.snap.roots if w.snap.mode is Mode.CASCADE else w.node_keys


def _start_chunk(w: Work, size: int) -> None:
    """Notify the next `size` nodes of the start; if any are left, the `start` deadline (due now)
    brings the next chunk in a step of its own."""
    keys = _start_nodes(w)
    done = len(keys) - w.start_left
    chunk = keys[done : done + size]
    w.start_left -= len(chunk)
    if done == 0 and w.start_left:
        w.log(
            "start in chunks",
            "system",
            f"notifying {len(keys)} nodes: the first {len(chunk)} now, then {NEXT_CHUNK} per step",
        )
    for key in chunk:
        _notify_node(w, key)
    if w.start_left:
        w.schedule(START_KEY, w.now, len(keys) - w.start_left)


def _continue_start(w: Work, fence: int) -> None:
    """The `start` deadline: the next chunk, unless the activation stopped or the fence is stale."""
    if w.status != "open" or not w.start_left or fence != len(_start_nodes(w)) - w.start_left:
        return
    _start_chunk(w, NEXT_CHUNK)
    check_completion(w)


def _message_kind(w: Work) -> MessageKind:
    if w.snap.invokes is not None:
        return "invocation"  # the question to the invocation authority (see snapshot.compile_invocation)
    return "activation" if w.snap.kind is ActivationKind.INCIDENT else "drill"


def _notify_node(w: Work, key: str) -> None:
    if w.nodes[key].status != "pending":
        return
    node = w.snap.nodes[key]
    w.set_node(key, status="notifying", notified_at=w.now)
    if node.left_out:
        w.set_node(key, status="cancelled", resolved_at=w.now)
        w.log("node left out", key, f"{node.label} left out of this drill: every holder is external")
        _release_children(w, key)
        return
    w.log("node notified", key, f"notifying {node.label}")
    _start_holder(w, key, 0)


def _release_children(w: Work, key: str) -> None:
    """Cascade: the node is done with (acknowledged, or skipped past); its children go next."""
    if w.snap.mode is Mode.CASCADE:
        for child in w.snap.nodes[key].children:
            _notify_node(w, child)


def _start_holder(w: Work, key: str, index: int) -> None:
    node = w.snap.nodes[key]
    while index < len(node.holders) and cursor_key(key, node.holders[index]) in w.cursors:
        index += 1  # already tried, or already answered (e.g. declined on their behalf)
    if index >= len(node.holders):
        _node_unresolved(w, key)
        return
    person = node.holders[index]
    ck = cursor_key(key, person)
    w.set_node(key, holder_index=index)
    w.add_cursor(ck, PersonCursor(node=key, person=person, holder_index=index, status="notifying"))
    if index > 0:
        w.log("alternate", person, f"trying alternate {index} for {node.label}")
    _advance(w, ck)


def _advance(w: Work, ck: str) -> None:
    """Send the cursor's next attempt, or give up on this holder."""
    cursor = w.cursors[ck]
    if cursor.attempt is not None:
        w.withdraw(cursor.attempt)  # given up before the provider took it: out of the queue
    node = w.snap.nodes[cursor.node]
    person = w.snap.people[cursor.person]
    policy, dead = node.policy, w.dead_keys
    round_ = cursor.round
    after = (cursor.method_index, cursor.contact_index)
    choice = next_choice(policy, person, after, w.now, w.snap.business_hours, dead)
    if choice is None and round_ + 1 < policy.rounds:
        round_ += 1
        choice = next_choice(policy, person, (-1, -1), w.now, w.snap.business_hours, dead)
    if choice is None:
        _exhaust(w, ck)
        return
    extra = {"node": node.key, "label": node.label}
    attempt = w.send(person.id, node.key, choice.contact, _message_kind(w), extra)
    give_up = w.now + policy.validity_period
    cursor = w.set_cursor(
        ck,
        round=round_,
        method_index=choice.method_index,
        contact_index=choice.contact_index,
        fence=cursor.fence + 1,
        attempt=attempt.id,
        wait=choice.wait,
        wait_from=None,
        due_at=give_up,
        first_at=cursor.first_at or w.now,
    )
    w.schedule(cursor.deadline_key, give_up, cursor.fence)
    how = (
        "fallback outside the policy hours"
        if choice.method_index == len(policy.methods)
        else (f"method {choice.method_index + 1}")
    )
    w.log(
        "notify",
        person.id,
        f"{attempt.channel.value} attempt {attempt.id} for {node.label} (round {round_ + 1}, {how}), "
        f"waiting {format_duration(choice.wait)} once it is sent",
    )


def _start_wait(w: Work, ck: str) -> None:
    """The provider has the message (or may have it): the acknowledgement wait starts now."""
    cursor = w.cursors[ck]
    assert cursor.wait is not None
    due = w.now + cursor.wait
    cursor = w.set_cursor(ck, fence=cursor.fence + 1, wait_from=w.now, due_at=due)
    w.schedule(cursor.deadline_key, due, cursor.fence)


def _exhaust(w: Work, ck: str) -> None:
    not_tried = untried.holder_not_tried(w, w.cursors[ck])  # a provider failed: not their failure
    cursor = w.stop_cursor(ck, "not_tried" if not_tried else "exhausted")
    node = w.snap.nodes[cursor.node]
    if not_tried:
        w.log("holder not tried", cursor.person, f"{node.label}: {untried.reason(w)}", "provider failure")
    else:
        w.log(
            "holder exhausted",
            cursor.person,
            f"no acknowledgement for {node.label} after {node.policy.rounds} round(s) of every method",
            "not reached",
        )
    if node.policy.use_alternates:
        _start_holder(w, node.key, cursor.holder_index + 1)
    else:
        _node_unresolved(w, node.key)


def _node_unresolved(w: Work, key: str) -> None:
    """Nobody in the role can be reached: record it, go past the branch, tell who must know."""
    node = w.snap.nodes[key]
    decliners = [w.snap.people[c.person].name for _, c in w.cursors_of(key) if c.status == "declined"]
    not_tried = untried.node_not_tried(w, key)  # a provider failed: the node was not really tried
    w.set_node(key, status="not_tried" if not_tried else "unreachable", resolved_at=w.now)
    problem = (
        "the role has no holders"
        if not node.holders
        else (f"declined by {', '.join(decliners)}; nobody else could be reached" if decliners
              else "no holder could be reached")
    )
    if not_tried:
        w.log("node not tried", key, f"{node.label} {untried.reason(w)}", "provider failure")
    else:
        w.log("node unreachable", key, f"{node.label} unreachable", problem)
    if node.policy.notify_coordinator:
        _tell_about(w, key, untried.reason(w) if not_tried else "unreachable")
    if w.snap.mode is Mode.CASCADE and node.children:
        if node.policy.skip_level:
            count = len(node.children)
            w.log("skip level", key, f"notifying the {count} node(s) under {node.label} directly")
            _release_children(w, key)
        else:
            w.log("skip level", key, f"nodes under {node.label} are not notified", "skip_level is off")


def _tell_about(w: Work, key: str, reason: str) -> None:
    node = w.snap.nodes[key]
    recipients = list(w.snap.coordinator)
    if node.parent and (parent_holder := w.nodes[node.parent].acked_by):
        recipients.append(parent_holder)
    if not recipients:
        w.log("unreachable notice", key, "nobody to tell", "no coordinator and no acknowledged parent")
    for person_id in dict.fromkeys(recipients):
        person = w.snap.people[person_id]
        contact = first_reachable(person, w.now, w.snap.business_hours, frozenset(w.dead))
        if contact is None:
            w.log("unreachable notice", person_id, "not sent", "no usable contact method")
            continue
        extra = {"node": key, "label": node.label, "reason": reason, "tried": tried(w, key)}
        w.send(person_id, key, contact, "unreachable_notice", extra)
        w.log("unreachable notice", person_id, f"told by {contact.kind.value} that {node.label} is {reason}")


# --- answers ------------------------------------------------------------------------------------


def _reply(w: Work, person_id: str, response: str, via: str, attempt_id: str | None, on_behalf: bool) -> None:
    if person_id not in w.snap.people:
        w.log("reply", None, f"{response} ignored", "not a person of this activation")
        return
    if w.status != "open" or not w.started:
        w.log("reply", person_id, f"{response} via {via} recorded; no change", f"activation is {w.status}")
        return
    attempt = w.attempts.get(attempt_id or "")
    keys = w.cursor_keys_of(person_id)
    if attempt is not None and attempt.person == person_id and cursor_key(attempt.node, person_id) in keys:
        keys = [cursor_key(attempt.node, person_id)]
    if not keys and on_behalf:
        keys = _adopt(w, person_id)
    if not keys:
        w.log("reply", person_id, f"{response} ignored", "this person was never contacted")
        return
    for ck in keys:
        if w.status != "open":
            break
        if response == "confirm":
            _acknowledge(w, ck, via)
        else:
            _decline(w, ck, via, on_behalf)
        check_completion(w)


def _adopt(w: Work, person_id: str) -> list[str]:
    """An answer on someone's behalf before the tree reached them: open their cursors now."""
    keys = []
    for key, node in w.snap.nodes.items():
        if person_id in node.holders and w.nodes[key].status in ("pending", "notifying"):
            ck = cursor_key(key, person_id)
            index = node.holders.index(person_id)
            w.add_cursor(ck, PersonCursor(node=key, person=person_id, holder_index=index))
            keys.append(ck)
    return keys


def _acknowledge(w: Work, ck: str, via: str) -> None:
    cursor = w.cursors[ck]
    node = w.snap.nodes[cursor.node]
    if cursor.status == "acknowledged":
        w.log("acknowledged", cursor.person, f"repeat confirmation for {node.label} ignored")
        return
    cursor = w.stop_cursor(ck, "acknowledged")
    w.set_cursor(ck, acked_at=w.now, acked_via=via)
    w.reach(cursor.person)
    state = w.nodes[node.key]
    if state.status not in ("pending", "notifying", "unreachable", "not_tried", "declined"):
        problem = f"already acknowledged by {state.acked_by}" if state.acked_by else f"node {state.status}"
        w.log("acknowledged", cursor.person, f"confirmed for {node.label} via {via}", problem)
        return
    for other, other_cursor in w.cursors_of(node.key):
        if other != ck and other_cursor.status == "notifying":
            w.stop_cursor(other, "cancelled")
            w.log("holder stopped", other_cursor.person, f"{node.label} acknowledged by someone else")
    resolved_at = state.resolved_at or w.now
    w.set_node(node.key, status="acknowledged", acked_by=cursor.person, resolved_at=resolved_at)
    w.log("acknowledged", cursor.person, f"confirmed for {node.label} via {via}")
    if not rule_met(w):  # a met `first`/`quorum` rule stops the tree: do not page the children
        _release_children(w, node.key)


def _decline(w: Work, ck: str, via: str, on_behalf: bool) -> None:
    cursor = w.cursors[ck]
    node = w.snap.nodes[cursor.node]
    if cursor.status in ("acknowledged", "declined"):
        w.log("declined", cursor.person, f"decline for {node.label} ignored", f"already {cursor.status}")
        return
    was_active = cursor.status == "notifying"
    cursor = w.stop_cursor(ck, "declined")
    if not on_behalf:  # a decline entered for someone is no sign that a message reached them
        w.reach(cursor.person)
    w.log("declined", cursor.person, f"declined for {node.label} via {via}")
    if w.snap.invokes is not None:  # "2" to the invocation question is a decision, not a pass
        stand_by(w, node.key, cursor.person, via)
        return
    if was_active and w.nodes[node.key].status == "notifying":
        if node.policy.decline_moves_to_alternate:
            _start_holder(w, node.key, cursor.holder_index + 1)
        else:
            _node_unresolved(w, node.key)


# --- provider signals and deadlines -------------------------------------------------------------


def _provider_signal(w: Work, event: AttemptOutcome | ProviderStatus) -> None:
    """Record the signal; if the cursor's attempt certainly failed, move on now; if the provider
    has just taken it (or may have), start its acknowledgement wait."""
    failed = record_signal(w, event)
    attempt = w.attempts.get(event.attempt_id)
    if attempt is None or w.status != "open":
        return
    ck = cursor_key(attempt.node, attempt.person)
    cursor = w.cursors.get(ck)
    if cursor is None or cursor.attempt != attempt.id or cursor.status != "notifying":
        return
    if failed is not None:
        _advance(w, ck)
        check_completion(w)
    elif cursor.wait is not None and cursor.wait_from is None and attempt.status != "queued":
        _start_wait(w, ck)


def _provider_failing(w: Work, event: ProviderFailing) -> None:
    """Once per outage and activation: log it and tell the coordinator, by a channel of another
    provider if they have one (held messages go out when it is back; nobody is given up on for it)."""
    if event.outage in w.outages or w.status != "open" or not w.started:
        return
    w.outages.append(event.outage)
    channels = [c.value for c in event.channels]
    text = (
        f"The provider of {' and '.join(channels)} is not taking messages"
        + (f" ({event.detail})" if event.detail else "")
        + "; they are held and retried, and nobody is given up on because of it"
    )
    w.log("provider failing", "system", text, "provider failure")
    down = set(event.channels)
    for person_id in w.snap.coordinator:
        person = w.snap.people.get(person_id)
        if person is None:
            continue
        dead = w.dead_keys
        elsewhere = [
            c for c in person.contacts if c.kind not in down and address_key(c.kind, c.address) not in dead
        ]
        contact = (
            elsewhere[0]
            if elsewhere
            else first_reachable(person, w.now, w.snap.business_hours, frozenset(dead))
        )
        if contact is None:
            w.log("provider failing", person_id, "not told", "no usable contact method")
            continue
        w.send(person_id, "", contact, "update", {"message": text, "response": text})
        w.log("provider failing", person_id, f"told by {contact.kind.value}")


def _deadline(w: Work, event: DeadlineDue) -> None:
    if event.key == TIME_LIMIT_KEY:
        time_limit_due(w, event.fence)
        return
    if event.key == START_KEY:
        _continue_start(w, event.fence)
        return
    ck = event.key.removeprefix("ack:")
    cursor = w.cursors.get(ck)
    if cursor is None or cursor.status != "notifying" or cursor.fence != event.fence or w.status != "open":
        return  # stale: the cursor moved on after this deadline was set
    attempt = w.attempts.get(cursor.attempt or "")
    what = f"{attempt.channel.value} attempt {attempt.id}" if attempt else "the last attempt"
    if cursor.wait_from is None and attempt is not None and attempt.status == "queued":
        untried.give_up_untaken(w, attempt)  # its give-up bound passed: not tried, not unanswered
    else:
        w.log("no acknowledgement", cursor.person, f"no answer to {what} in time", "no acknowledgement")
    _advance(w, ck)
    check_completion(w)
