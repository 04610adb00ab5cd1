"""Provider answers and delivery reports, read as attempt statuses.

Every provider translates its own codes and status words into the channel-neutral
`DeliveryStatus` (`notifier.domain.events`) before anything reaches the planner; the planner needs
only: did it reach someone, did it certainly fail (move on now), or is it still under way.

Rules:
* A report that the message is under way (`sent`) turns a queued, unknown or withdrawn attempt
  into `sent`.
* A `not_sent` answer (the provider certainly did not take it; the dispatcher retries it) changes
  no status: it is counted and logged once per attempt. One for a withdrawn attempt withdraws it
  again (the dispatcher has just put its row back in the queue).
* A withdrawn attempt that the provider then reports taken was *sent after stop*, unless a lookup
  found that the provider had created it before the withdrawal (`taken_at`: its answer was only
  known later; the person may well have replied to it).
* `failed_permanent` and `opted_out` condemn the address for the rest of the activation, whatever
  was reported before.
* The first final report wins (a voicemail stays a voicemail when the call then completes), except
  that machine detection may arrive after the call was first seen answered.
"""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.events import AttemptOutcome, DeliveryStatus, ProviderStatus, Withdraw
from notifier.domain.state import AttemptState, AttemptStatus
from notifier.domain.work import Work

#: statuses after which the acknowledgement wait is pointless: move to the next attempt at once
SHORTCUT: frozenset[str] = frozenset({"failed", "no_answer", "busy", "machine", "invalid", "opted_out"})
#: statuses that mean a person (or their voicemail) got the message: they must hear the all-clear
REACHED: frozenset[str] = frozenset({"delivered", "answered", "machine"})
#: statuses that are facts about the end of an attempt (never overwritten by an "under way" report)
FINAL: frozenset[str] = frozenset(SHORTCUT | REACHED)
#: attempt statuses before the provider is known to have the message
_NOT_TAKEN = ("queued", "unknown", "withdrawn", "not_tried")
#: statuses of an attempt taken out of the queue: one the provider takes after all left after the stop
_TAKEN_BACK = ("withdrawn", "not_tried")
#: statuses of a message that never left (refused outright, or still/again not taken)
_NEVER_LEFT = frozenset({"invalid", "opted_out", "failed", "withdrawn", "queued"})

_STATUS: dict[DeliveryStatus, AttemptStatus] = {
    "delivered": "delivered",
    "answered": "answered",
    "machine": "machine",
    "busy": "busy",
    "no_answer": "no_answer",
    "failed": "failed",
    "failed_permanent": "invalid",
    "opted_out": "opted_out",
}


def status_from_report(current: AttemptStatus, report: DeliveryStatus) -> AttemptStatus | None:
    """The attempt's new status, or None when the report changes nothing we track."""
    if report == "sent":
        return "sent" if current in _NOT_TAKEN else None
    new = _STATUS[report]
    if report in ("failed_permanent", "opted_out"):
        return new  # a fact about the address, whatever was reported before
    if current in FINAL:
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
    if isinstance(event, AttemptOutcome) and event.outcome == "not_sent":
        _not_sent(w, attempt, event.error_code)
        return None
    status: AttemptStatus | None
    if isinstance(event, AttemptOutcome):
        what = f"send request {event.outcome}"
        # a status callback may overtake the send's own answer; it knows more
        status = status_from_outcome(event.outcome) if attempt.status in _NOT_TAKEN else None
    else:
        what = f"provider reports {event.status}"
        status = status_from_report(attempt.status, event.status)
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
    after_stop = (
        attempt.status in _TAKEN_BACK and status not in _NEVER_LEFT and not _taken_before(event, attempt)
    )
    attempt = w.set_attempt(
        attempt.id,
        status=status,
        ended_at=ended,
        error_code=error_code,
        after_stop=attempt.after_stop or after_stop,
    )
    if after_stop:
        w.log(
            "sent after stop",
            attempt.person,
            f"{attempt.channel.value} attempt {attempt.id} was already with a sender when it was withdrawn",
            "sent after it stopped mattering",
        )
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


def _taken_before(event: AttemptOutcome | ProviderStatus, attempt: AttemptState) -> bool:
    """The provider created the message before the attempt was withdrawn (a lookup says so)."""
    taken = event.taken_at if isinstance(event, AttemptOutcome) else None
    if taken is None or attempt.ended_at is None:
        return False
    return _aware(taken) <= _aware(attempt.ended_at)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _not_sent(w: Work, attempt: AttemptState, error_code: str | None) -> None:
    """The provider certainly did not take the message; the dispatcher queued it again."""
    if attempt.status in _TAKEN_BACK:
        # it stopped mattering while a sender had it: the row just went back to the queue, so
        # withdraw it again (same transaction) rather than let it go out later
        w.actions.append(Withdraw(attempt_id=attempt.id))
        return
    if attempt.status != "queued":
        return
    attempt = w.set_attempt(attempt.id, not_sent=attempt.not_sent + 1, error_code=error_code)
    if attempt.not_sent == 1:  # once per attempt: the retries themselves are the dispatcher's
        w.log(
            "attempt",
            attempt.person,
            f"{attempt.channel.value} attempt {attempt.id} not taken by the provider"
            + (f" (error {error_code})" if error_code else "")
            + "; retrying it, nobody is given up on for this",
            "provider failure",
        )
