"""What notices say: honest, specific, and about the tree rather than its instructions.

* **Unreachable** (to the coordinator and the parent's holder): who was tried, how, and what
  happened, addresses masked - "Ana Garcia declined; Pieter Peeters: SMS +3247*****12 delivered,
  no answer, call busy" - rather than "B could not be reached".
* **Completed** (to the coordinator): the rule that was met, the counts, who is still not reached,
  and the time taken against the prescribed limit - never the responders' own instructions.
* **Stand-down** (to people still being tried when a `first`/`quorum` rule is met, on by default):
  enough people confirmed, no need to answer.

The fields these fill (`tried`, `rule`, `counts`, `unreached`, `elapsed`) can be used in the tree's
notice templates (`templates.unreachable_notice` and so on); see `content.SYSTEM_FIELDS`.
"""

from __future__ import annotations

from notifier.domain.calltree import CompletionRule
from notifier.domain.durations import format_duration
from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind
from notifier.domain.work import Work

#: escalation attempts (the ones that ask for an answer), as opposed to notices and updates
ESCALATION = frozenset({"activation", "drill"})

_CHANNEL = {ChannelKind.SMS: "SMS", ChannelKind.VOICE: "call", ChannelKind.EMAIL: "email"}
_OUTCOME = {
    "queued": "queued, no answer",
    "sent": "sent, no answer",
    "delivered": "delivered, no answer",
    "failed": "failed",
    "no_answer": "not answered",
    "busy": "busy",
    "machine": "voicemail",
    "answered": "answered, no confirmation",
    "invalid": "invalid number",
    "opted_out": "opted out",
    "unknown": "may have been sent, no answer",
    "skipped": "skipped",
}
_MAX_LISTED = 8


def tried(w: Work, key: str) -> str:
    """Each holder tried for node `key`: who declined, and every attempt with its outcome."""
    parts: list[str] = []
    for _, cursor in w.cursors_of(key):
        name = w.snap.people[cursor.person].name
        if cursor.status == "declined":
            parts.append(f"{name} declined")
            continue
        attempts = [a for a in w.attempts_of(cursor.person) if a.node == key and a.purpose in ESCALATION]
        if not attempts:
            parts.append(f"{name}: no usable contact method")
            continue
        how = ", ".join(
            f"{_CHANNEL[a.channel]} {mask_address(a.address)} {_OUTCOME.get(a.status, a.status)}"
            for a in attempts
        )
        parts.append(f"{name}: {how}")
    return "; ".join(parts) if parts else "nobody holds the role"


def rule_text(w: Work) -> str:
    completion = w.snap.completion
    if completion.rule is CompletionRule.FIRST:
        return "first acknowledgement"
    if completion.rule is CompletionRule.QUORUM:
        return f"quorum of {completion.quorum or 1}"
    return "every required node"


def completion_fields(w: Work) -> dict[str, str]:
    """What the completed notice says: rule, counts, who is still not reached, time against limit."""
    statuses = {key: state.status for key, state in w.nodes.items()}
    acked = sum(1 for s in statuses.values() if s == "acknowledged")
    unreachable = [k for k, s in statuses.items() if s == "unreachable"]
    not_tried = [k for k, s in statuses.items() if s == "not_tried"]
    stopped = [k for k, s in statuses.items() if s == "cancelled" and w.nodes[k].notified_at is not None]
    counts = f"{acked} of {len(statuses)} nodes acknowledged"
    if unreachable:
        counts += f", {len(unreachable)} unreachable"
    if not_tried:
        counts += f", {len(not_tried)} not tried (a provider was failing)"
    if stopped:
        counts += f", {len(stopped)} no longer needed"
    missing = [w.snap.nodes[k].label for k in unreachable + not_tried + stopped]
    unreached = ", ".join(missing[:_MAX_LISTED])
    if len(missing) > _MAX_LISTED:
        unreached += f" and {len(missing) - _MAX_LISTED} more"
    started = w.started_at
    elapsed = format_duration(w.now - started) if started is not None else ""
    limit = format_duration(w.snap.time_limit)
    return {
        "rule": rule_text(w),
        "counts": counts,
        "unreached": unreached,
        "elapsed": f"{elapsed} of the {limit} limit" if elapsed else "",
    }


def still_being_tried(w: Work) -> list[str]:
    """People with a message out for a node that is still open: a stand-down goes to them. A message
    still queued (the provider has not taken it) is not out: it is withdrawn instead, and a person
    who never got the page gets no stand-down either."""
    people: list[str] = []
    for cursor in w.cursors.values():
        if cursor.status != "notifying" or w.nodes[cursor.node].status not in ("pending", "notifying"):
            continue
        sent = any(
            a.node == cursor.node and a.purpose in ESCALATION and a.status not in ("queued", "withdrawn")
            for a in w.attempts_of(cursor.person)
        )
        if sent and cursor.person not in people:
            people.append(cursor.person)
    return people
