"""Provider answers and callbacks, read as attempt statuses.

Twilio reports a message as queued/sending/sent/delivered/undelivered/failed (plus read, canceled,
...), a call as queued/ringing/in-progress/completed/busy/no-answer/failed/canceled with
`AnsweredBy` human/machine_*/fax/unknown when machine detection is on. The planner needs only: did
it reach someone, did it certainly fail (move on now), or is it still under way.
"""

from __future__ import annotations

from notifier.domain.events import AttemptOutcome, ProviderStatus
from notifier.domain.state import AttemptState, AttemptStatus
from notifier.domain.work import Work

#: statuses after which the acknowledgement wait is pointless: move to the next attempt at once
SHORTCUT: frozenset[str] = frozenset({"failed", "no_answer", "busy", "machine", "invalid", "opted_out"})
#: statuses that mean a person (or their voicemail) got the message: they must hear the all-clear
REACHED: frozenset[str] = frozenset({"delivered", "answered", "machine"})
#: statuses that are facts about the end of an attempt (never overwritten by an "under way" report)
FINAL: frozenset[str] = frozenset(SHORTCUT | REACHED)

_UNDER_WAY = {"queued", "accepted", "scheduled", "sending", "sent", "initiated", "ringing"}
_FAILED = {"failed", "undelivered", "canceled"}
_ANSWERED = {"in-progress", "completed", "answered"}
#: Twilio error codes that condemn the address for the rest of the activation
_DEAD_CODES = {"21211": "invalid", "21614": "invalid", "30006": "invalid", "21610": "opted_out"}


def status_from_callback(
    current: AttemptStatus, status: str, answered_by: str | None, error_code: str | None
) -> AttemptStatus | None:
    """The attempt's new status, or None when the callback changes nothing we track."""
    status = status.strip().lower()
    answered_by = (answered_by or "").strip().lower()
    if error_code in _DEAD_CODES and status in _FAILED:
        return "opted_out" if _DEAD_CODES[error_code] == "opted_out" else "invalid"
    if answered_by.startswith("machine") or answered_by == "fax":
        new: AttemptStatus = "machine"
    elif status in _UNDER_WAY:
        return "sent" if current in ("queued", "unknown") else None
    elif status in ("delivered", "read"):
        new = "delivered"
    elif status in _FAILED:
        new = "failed"
    elif status == "busy":
        new = "busy"
    elif status == "no-answer":
        new = "no_answer"
    elif status in _ANSWERED:
        new = "answered"
    else:
        return None
    if current in FINAL:
        # The first final report wins (a voicemail stays a voicemail when the call "completes"),
        # except that machine detection may arrive after the call was first seen in progress.
        return new if (current, new) == ("answered", "machine") else None
    return new


_OUTCOMES: dict[str, AttemptStatus] = {
    "accepted": "sent",
    "invalid": "invalid",
    "opted_out": "opted_out",
    "failed": "failed",
}


def status_from_outcome(outcome: str) -> AttemptStatus:
    """The answer to the send request itself; anything unrecognised is "unknown" (maybe sent)."""
    return _OUTCOMES.get(outcome, "unknown")


def record_signal(w: Work, event: AttemptOutcome | ProviderStatus) -> AttemptState | None:
    """Update the attempt record; return the attempt if it has just certainly failed."""
    attempt = w.attempts.get(event.attempt_id)
    if attempt is None:
        w.log("attempt", "system", f"signal for unknown attempt {event.attempt_id} ignored")
        return None
    status: AttemptStatus | None
    if isinstance(event, AttemptOutcome):
        what = f"send request {event.outcome}"
        # a status callback may overtake the send's own answer; it knows more
        status = status_from_outcome(event.outcome) if attempt.status in ("queued", "unknown") else None
    else:
        what = f"provider reports {event.status}"
        status = status_from_callback(attempt.status, event.status, event.answered_by, event.error_code)
    if status is None and isinstance(event, AttemptOutcome) and event.outcome == "unknown":
        # the send request failed on our side (timeout, 5xx) but a callback overtook its answer:
        # the provider did take the message, which the log should say as plainly as the other case
        w.log(
            "attempt",
            attempt.person,
            f"attempt {attempt.id} may have been sent: {what}, but the provider already reports "
            f"{attempt.status}; not resending",
        )
        return None
    if status is None or status == attempt.status:
        return None
    ended = w.now if status in FINAL else attempt.ended_at
    error_code = event.error_code or attempt.error_code
    attempt = w.set_attempt(attempt.id, status=status, ended_at=ended, error_code=error_code)
    if status in ("invalid", "opted_out"):
        w.mark_dead(attempt.channel, attempt.address)
    if status in REACHED:
        w.reach(attempt.person)
    problem = (status + (f" (error {error_code})" if error_code else "")) if status in SHORTCUT else None
    w.log(
        "attempt",
        attempt.person,
        f"{attempt.channel.value} attempt {attempt.id}: {what} -> {status}",
        problem,
    )
    if status == "unknown":
        w.log("attempt", attempt.person, f"attempt {attempt.id} may have been sent: waiting, not resending")
    return attempt if status in SHORTCUT else None
