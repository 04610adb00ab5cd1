"""When an activation is done (or late): completion rules, the time limit, cancelling, closing.

Split from `planner.py` (which holds the escalation rules and documents all of them) only to keep
both files short. Completion under any rule stops what is still running; see the planner's module
docstring for why.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

from notifier.domain.calltree import CompletionRule, Mode
from notifier.domain.durations import format_duration
from notifier.domain.events import (
    Announce,
    Cancel,
    Close,
    Completed,
    MessageKind,
    StandDown,
    TimeLimitPassed,
)
from notifier.domain.notices import completion_fields, rule_text, still_being_tried
from notifier.domain.plan import ChannelKind
from notifier.domain.signals import REACHED
from notifier.domain.state import RESOLVED, START_KEY, TIME_LIMIT_KEY, address_key
from notifier.domain.work import Work


def _may_still_notify(w: Work, key: str) -> bool:
    """Is the node being notified, or could it still be (cascade: its parent may yet release it)?"""
    status = w.nodes[key].status
    if status == "notifying":
        return True
    if status != "pending":
        return False
    parent = w.snap.nodes[key].parent
    if parent is None or w.snap.mode is Mode.BROADCAST:  # the start notifies it (perhaps in a later chunk)
        return not w.started or w.start_left > 0
    parent_status = w.nodes[parent].status
    if parent_status in ("pending", "notifying"):
        return _may_still_notify(w, parent)
    if parent_status in ("unreachable", "not_tried", "declined"):
        return w.snap.nodes[parent].policy.skip_level
    return parent_status == "acknowledged"


def rule_met(w: Work) -> bool:
    completion = w.snap.completion
    if completion.rule is CompletionRule.FIRST:
        return w.acknowledged_nodes() >= 1
    if completion.rule is CompletionRule.QUORUM:
        return w.acknowledged_nodes() >= (completion.quorum or 1)
    return _find(w, "open-required", _open_required) is None


def _open_required(w: Work, key: str) -> bool:
    """A required node that is not resolved and may still be notified: the `all` rule is not met."""
    return w.snap.nodes[key].required and w.nodes[key].status not in RESOLVED and _may_still_notify(w, key)


def _find(w: Work, purpose: str, test: Callable[[Work, str], bool]) -> str | None:
    """The first node passing `test`, starting from the one that passed last time (`w.witness`).

    While a broadcast runs, the node that showed "not done yet" usually still shows it at the next
    event, so a completion check costs O(1) rather than a walk of every node; when it no longer
    does, the walk goes on from there. The answer is the same as a walk from the start would give
    (some node passes, or none does); only which node is found may differ.
    """
    keys = w.node_keys
    start = w.witness.get(purpose, 0)
    for index in chain(range(start, len(keys)), range(start)):
        if test(w, keys[index]):
            w.witness[purpose] = index
            return keys[index]
    return None


def check_completion(w: Work) -> None:
    if w.status != "open" or not w.started:
        return
    if rule_met(w):
        counts = _counts(w)
        not_needed = still_being_tried(w) if w.snap.completion.rule is not CompletionRule.ALL else []
        stop_all(w)
        w.status, w.completed_at = "completed", w.now
        w.actions.append(Completed(rule=w.snap.completion.rule, at=w.now))
        w.log("completed", "system", f"completion rule '{w.snap.completion.rule.value}' met: {counts}")
        if w.snap.invokes is not None:
            _decision(w, next((n.acked_by for n in w.nodes.values() if n.acked_by), None), "invoke")
        if w.snap.stand_down:  # a first/quorum rule is met: those still being tried may stand down
            for person_id in not_needed:
                _tell_reached(w, person_id, "stand_down", {"rule": rule_text(w)})
        notice = completion_fields(w)
        for person_id in w.snap.coordinator:  # the coordinator hears the tree is done, and how it went
            if person_id in w.snap.people:
                _tell_reached(w, person_id, "completed_notice", notice)
    elif not w.exhausted and _find(w, "may-notify", _may_still_notify) is None:
        w.exhausted = True
        w.log("exhausted", "system", f"nothing left to try: {_counts(w)}", "completion rule not met")


def _counts(w: Work) -> str:
    statuses = [n.status for n in w.nodes.values()]
    return (
        f"{statuses.count('acknowledged')} of {len(statuses)} nodes acknowledged, "
        f"{statuses.count('unreachable') + statuses.count('declined')} unreachable"
    )


def stand_by(w: Work, key: str, person_id: str, via: str) -> None:
    """The invocation authority answered "2": the decision is recorded, the question is over, and
    the coordinator is told; nobody else is asked."""
    if w.status != "open":
        return
    stop_all(w)
    w.set_node(key, status="declined", resolved_at=w.now)
    w.status, w.completed_at = "completed", w.now
    w.actions.append(Completed(rule=w.snap.completion.rule, at=w.now))
    _decision(w, person_id, f"stand by (via {via})")


def _decision(w: Work, person_id: str | None, decision: str) -> None:
    invokes = w.snap.invokes
    assert invokes is not None
    name = w.snap.people[person_id].name if person_id in w.snap.people else "nobody"
    started = "; the tree is started" if decision == "invoke" else "; the tree is not started"
    w.log("decision", person_id, f"{decision}: {name} for {invokes.tree_name}{started}")
    if decision == "invoke":
        return  # the coordinator hears it from the tree itself and from the completed notice
    for coordinator in w.snap.coordinator:
        if coordinator in w.snap.people and coordinator != person_id:
            _tell_reached(w, coordinator, "decision_notice", {"decision": "stand by", "by": name})


def stop_all(w: Work) -> None:
    w.unschedule(TIME_LIMIT_KEY)
    if w.start_left:  # a start still going out in chunks notifies no more
        w.start_left = 0
        w.unschedule(START_KEY)
    for ck, cursor in list(w.cursors.items()):
        if cursor.status == "notifying":
            w.stop_cursor(ck, "cancelled")
    for key, state in list(w.nodes.items()):
        if state.status in ("pending", "notifying"):
            w.set_node(key, status="cancelled", resolved_at=w.now)


def cancel(w: Work, event: Cancel) -> None:
    if w.status != "open":
        w.log("cancel", event.by, "ignored", f"activation already {w.status}")
        return
    stop_all(w)
    w.status = "cancelled"
    w.log("cancelled", event.by, "activation cancelled" + (f": {event.reason}" if event.reason else ""))


def close_activation(w: Work, event: Close) -> None:
    if w.status == "closed":
        w.log("close", event.by, "ignored", "activation already closed")
        return
    if w.status == "open":
        stop_all(w)
    w.status, w.closed_at = "closed", w.now
    w.log("closed", event.by, f"activation closed; return to normal sent to {len(w.reached)} people")
    extra = {"message": event.message} if event.message else {}
    for person_id in list(w.reached):
        _tell_reached(w, person_id, "deactivation", extra)


def announce(w: Work, event: Announce) -> None:
    """An update to `event.audience` (see `audience`), and the coordinator when asked; the
    escalation itself is not changed."""
    if w.status == "closed":
        w.log("announce", event.by, "ignored", "activation already closed")
        return
    recipients = audience(w, event.audience)
    if event.coordinator:
        recipients += [p for p in w.snap.coordinator if p not in recipients]
    problem = None if recipients else f"nobody in the audience '{event.audience}'"
    sent = f"update sent to {len(recipients)} people ({event.audience}): {event.message}"
    w.log("announced", event.by, sent, problem)
    extra = {**event.fields, "message": event.message}
    for person_id in recipients:
        _tell_reached(w, person_id, "update", extra)


def audience(w: Work, which: str) -> list[str]:
    """Who an update goes to, in a stable order: `reached` everyone a message reached (they answered,
    or a message was delivered to them); `pending` everyone being tried now who has not answered;
    `all` both; `node:<key>` either, within that node and the nodes under it."""
    reached = list(w.reached)
    pending = [c.person for c in w.cursors.values() if c.status == "notifying"]
    if which == "reached":
        return reached
    if which == "pending":
        return [p for p in dict.fromkeys(pending) if p not in w.reached]
    everyone = list(dict.fromkeys(reached + pending))
    if which == "all":
        return everyone
    key = which.removeprefix("node:")
    if key not in w.snap.nodes:
        return []
    subtree, stack = set(), [key]
    while stack:
        current = stack.pop()
        subtree.add(current)
        stack.extend(w.snap.nodes[current].children)
    members = {c.person for c in w.cursors.values() if c.node in subtree}
    members |= {a.person for a in w.attempts.values() if a.node in subtree}
    return [p for p in everyone if p in members]


def stand_down(w: Work, event: StandDown) -> None:
    """Stop escalating to anyone not yet reached; tell the coordinator and those reached."""
    if w.status not in ("open", "completed"):
        w.log("stand down", event.by, "ignored", f"activation already {w.status}")
        return
    stopped = sum(1 for s in w.nodes.values() if s.status in ("pending", "notifying"))
    if w.status == "open":
        stop_all(w)
    w.log("stood down", event.by, f"escalation stopped ({stopped} node(s) not yet reached): {event.message}")
    announce(w, Announce(by=event.by, message=event.message, coordinator=True))


def _tell_reached(w: Work, person_id: str, kind: MessageKind, extra: dict[str, str]) -> None:
    """Sent by SMS if we have a usable number, else by the channel that reached them."""
    person = w.snap.people[person_id]
    dead = w.dead_keys
    reaching = [a for a in w.attempts_of(person_id) if a.status in REACHED]
    usable = [c for c in person.contacts if address_key(c.kind, c.address) not in dead]
    by_sms = [a for a in reaching if a.channel is ChannelKind.SMS]
    contact = next(
        (c for c in usable if by_sms and c.kind is ChannelKind.SMS and c.address == by_sms[0].address),
        next((c for c in usable if c.kind is ChannelKind.SMS), None),
    )
    if contact is None and reaching:
        contact = next((c for c in usable if c.address == reaching[-1].address), None)
    if contact is None and usable:
        contact = usable[0]
    if contact is None:
        w.log(kind, person_id, "not sent", "no usable contact method")
        return
    nodes = [a.node for a in reaching] + [w.cursors[key].node for key in w.cursor_keys_of(person_id)]
    node = nodes[0] if nodes else ""
    w.send(person_id, node, contact, kind, extra)
    what = {"deactivation": "return to normal", "stand_down": "stand-down"}.get(kind, kind)
    w.log(kind, person_id, f"{what} sent by {contact.kind.value}")


def time_limit_due(w: Work, fence: int) -> None:
    if w.status != "open" or w.time_limit_passed or fence != 0:
        return
    w.time_limit_passed = True
    acked = w.acknowledged_nodes()
    total = len(w.nodes)
    w.actions.append(TimeLimitPassed(at=w.now))
    w.log(
        "time limit passed",
        "system",
        f"prescribed time limit of {format_duration(w.snap.time_limit)} passed with {acked} of {total} "
        "nodes acknowledged",
        f"{total - acked} node(s) not acknowledged in time",
    )
