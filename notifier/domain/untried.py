"""A provider outage that outlasts an attempt's give-up bound: nobody is marked unreachable for it.

The dispatcher retries a send the provider certainly did not take (refused connection, DNS or TLS
failure, 429, a 5xx documented as not created) on the same attempt, with backoff and jitter, and
holds a channel whose every provider is out of service. What bounds those retries, and what the
activation records when the bound passes with the provider still failing, are the planner's rules
below (the planner calls these functions; like it, they do no I/O and read no clock).

1. **The bound.** An attempt the provider has not taken may wait, queued behind its sender's rate
   or refused and retried while the provider fails, until its give-up deadline: the node policy's
   `validity_period` (default 30 min) from when it was queued. That is the age at which the provider
   itself drops a queued message (Twilio's `ValidityPeriod`): a page older than that is no longer
   timely, so retrying longer would only deliver it late.
2. **Not tried is not unanswered.** When the bound passes and the provider never took the message,
   the attempt ends `not_tried` (taken out of the queue), never as an unanswered attempt. The reason
   is "provider X failing" when the provider refused it at least once (`not_sent`) or an outage was
   reported to this activation (`ProviderFailing`), otherwise "still queued". The holder's next
   method is tried, as after any attempt (it may use another provider).
3. **Unreachable only after a real try.** A holder whose methods and rounds are used up is
   *exhausted* ("not reached") only if every one of their attempts for the node was taken by a
   provider: their methods were really tried and went unanswered. With one or more `not_tried`
   attempts the holder ends `not_tried` instead: "not tried because provider X was failing".
   Alternates are tried as after an exhausted holder.
4. **The node.** A node with no holder left is *unreachable* only if none of its holders ended
   `not_tried`; otherwise it ends `not_tried`. Either is resolved: the completion rule can be met
   and the activation ends in bounded time however long the provider stays down (at most the
   policy's rounds x methods x `validity_period` per holder). Its children are notified directly
   (`skip_level`) as after an unreachable node, and the coordinator is told (`notify_coordinator`)
   that the node was not tried and which provider was failing.
5. **Still welcome.** A confirmation that arrives later (the provider came back, or the person
   heard another way) acknowledges a `not_tried` node as it would an unreachable one.
"""

from __future__ import annotations

from notifier.domain.durations import format_duration
from notifier.domain.events import Withdraw
from notifier.domain.state import AttemptState, PersonCursor
from notifier.domain.work import Work

#: attempt statuses of a message no provider took (rule 2); "withdrawn" ones stopped mattering first
NOT_TAKEN = frozenset({"queued", "not_tried"})


def failing_provider(w: Work, attempt: AttemptState | None = None) -> str | None:
    """The provider(s) reported failing to this activation (the last outage), or "the provider" when
    only the attempt's own refusals say so; None when nothing says a provider failed (rule 2)."""
    if w.outages:
        return w.outages[-1].partition("@")[0]
    if attempt is not None and attempt.not_sent:
        return "the provider"
    return None


def give_up_untaken(w: Work, attempt: AttemptState) -> None:
    """Rule 2: the give-up bound passed and the provider never took `attempt`."""
    cursor_node = w.snap.nodes[attempt.node]
    validity = format_duration(cursor_node.policy.validity_period)
    provider = failing_provider(w, attempt)
    why = f"{provider} failing" if provider else "still queued"
    w.set_attempt(attempt.id, status="not_tried", ended_at=w.now)
    w.actions.append(Withdraw(attempt_id=attempt.id))
    w.log(
        "not sent",
        attempt.person,
        f"{attempt.channel.value} attempt {attempt.id} not taken by a provider within {validity} "
        f"({why}): not tried, trying the next method",
        "provider failure" if provider else "not sent",
    )


def untried(w: Work, cursor: PersonCursor) -> list[AttemptState]:
    """The holder's escalation attempts for the cursor's node that no provider took (rule 3)."""
    return [a for a in w.attempts_of(cursor.person) if a.node == cursor.node and a.status == "not_tried"]


def holder_not_tried(w: Work, cursor: PersonCursor) -> bool:
    """Rule 3: the holder's methods are used up; was any of them not really tried?"""
    return bool(untried(w, cursor))


def node_not_tried(w: Work, key: str) -> bool:
    """Rule 4: did any holder of the node end not tried?"""
    return any(c.status == "not_tried" for _, c in w.cursors_of(key))


def reason(w: Work) -> str:
    """What the coordinator is told about a node that was not tried (rule 4)."""
    provider = failing_provider(w)
    return f"not tried: {provider} was failing" if provider else "not tried: its messages were not sent"
