"""One outage, one activation: what an alert does, given what is known about its incident key.

Every alert that matches a route belongs to an *incident key* (the route decides how it is made:
`IncidentKey`). The rules, each answered with one outcome that is stored with the alert:

* **unrouted** - no route matched (nobody is paged; the alert is stored, logged and counted).
* **test** - Grafana's contact-point "Test" notification: it proves the integration works; nobody
  is paged.
* **started** - a firing alert whose key has no activation, or whose activation is stale (open, but
  nothing of the key has fired for longer than the route's `group_window`), or whose activation was
  ended while nothing of the key was firing any more: a new activation starts (a page).
* **duplicate** - the same alert (same dedup key) again while it fires and its activation is open
  or completed: nothing happens.
* **joined** - another alert of the key while its activation is open or completed: it is recorded
  on that activation; with the route's `on_join: update` those reached get an update (at most one
  per `update_interval`), never a new page.
* **suppressed** - a firing alert of a key whose activation a person cancelled or closed while
  alerts of the key were still firing: stored and shown, not paged, until every alert of the key has
  resolved (then the next firing is a new outage) or, when the route sets `quiet_period`, that long
  after the activation ended. A coordinator can page again explicitly.
* **resolved** - a resolved alert. When it was the last firing alert of the key and the activation
  is still open or completed, the route's `on_resolved` applies (record, announce, stand_down,
  close); a resolve of an alert not known to fire changes nothing.
* **acknowledged** - a PagerDuty `acknowledge` event: the monitoring source's acknowledgement,
  recorded on the activation of the alert's incident; it is never a person's acknowledgement and
  changes nothing else (one for an alert not firing is dropped, as PagerDuty does).
* **rejected** - the request was refused (401, 403, 413, 422, 400, 429): stored with the reason.

The engine reads the facts inside the transaction that stores the alert, with the incident's row
locked, so two alerts of one key arriving together cannot both start an activation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from notifier.domain.alerts import Alert
from notifier.domain.calltree import IncidentKey, IncidentKeyBy, OnJoin, OnResolved

AlertOutcome = Literal[
    "started", "joined", "duplicate", "suppressed", "resolved", "acknowledged", "unrouted", "rejected", "test"
]
ALERT_OUTCOMES: tuple[AlertOutcome, ...] = (
    "started",
    "joined",
    "duplicate",
    "suppressed",
    "resolved",
    "acknowledged",
    "unrouted",
    "rejected",
    "test",
)
_KEY_MAX = 320


def incident_key(route_id: str, rule: IncidentKey, alert: Alert, service_id: str | None) -> str:
    """The key alerts of one outage share: route id, then what the route's rule names.

    The service is the plan service id when the alert names a known service (so "SPEED" and
    "SPEED-ECN" are one key), else the `service` label as sent, case-folded.
    """
    service = service_id or (alert.service or "").strip().casefold()
    part = f"service={service}"
    if rule.by is IncidentKeyBy.LABELS:
        part = ",".join(f"{name}={alert.labels.get(name, '')}" for name in rule.labels)
    elif rule.by is IncidentKeyBy.GROUP_KEY and alert.group_key:
        part = f"group={alert.group_key}"
    elif rule.by is IncidentKeyBy.EXPLICIT and alert.incident_key:
        part = f"key={alert.incident_key}"
    key = f"{route_id}:{part}"
    if len(key) > _KEY_MAX:  # a long groupKey: keep it readable and unique
        key = key[: _KEY_MAX - 17] + "#" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return key


@dataclass(frozen=True)
class IncidentFacts:
    """What the store knows about an incident key when an alert of it arrives."""

    activation_id: str | None
    #: the activation is open or completed (still the place where the outage is handled)
    activation_active: bool
    #: when a person (or a route's on_resolved: close) ended the activation; None while active
    ended_at: datetime | None
    #: this alert's dedup key is firing in the key
    this_firing: bool
    #: other alerts of the key still firing
    others_firing: int
    #: when the last alert of the key resolved (None: one is firing, or none ever resolved)
    resolved_at: datetime | None
    #: when the last join update was sent (route on_join: update)
    last_update_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: AlertOutcome
    detail: str
    #: start a new activation for the key
    start: bool = False
    #: the activation the alert is recorded on (joined, duplicate, suppressed, resolved)
    activation_id: str | None = None
    #: the route's on_resolved to apply now (the last alert of the key resolved)
    apply: OnResolved | None = None
    #: send an update to those reached (on_join: update, not within update_interval)
    update: bool = False


@dataclass(frozen=True)
class KeyRules:
    """The route's correlation settings."""

    group_window: timedelta
    quiet_period: timedelta | None
    on_join: OnJoin
    update_interval: timedelta
    on_resolved: OnResolved


def firing(facts: IncidentFacts | None, rules: KeyRules, now: datetime) -> Verdict:
    """The outcome of a firing alert of a routed key (see the module docstring)."""
    if facts is None or facts.activation_id is None:
        return Verdict("started", "first alert of this incident", start=True)
    act = facts.activation_id
    if facts.activation_active:
        if facts.this_firing:
            return Verdict("duplicate", "this alert already fires in the activation", activation_id=act)
        recent = facts.resolved_at is not None and now - facts.resolved_at <= rules.group_window
        if facts.others_firing == 0 and not recent:
            return Verdict(
                "started",
                "the open activation of this incident had nothing firing for longer than the grouping window",
                start=True,
            )
        update = rules.on_join is OnJoin.UPDATE and (
            facts.last_update_at is None or now - facts.last_update_at >= rules.update_interval
        )
        return Verdict("joined", "another alert of the open incident", activation_id=act, update=update)
    still_firing = facts.this_firing or facts.others_firing > 0
    quiet_over = (
        rules.quiet_period is not None
        and facts.ended_at is not None
        and now - facts.ended_at >= rules.quiet_period
    )
    if still_firing and not quiet_over:
        return Verdict(
            "suppressed",
            "the activation of this incident was ended by a person while its alerts still fire; "
            "recorded, not paged, until they all resolved",
            activation_id=act,
        )
    why = (
        "the quiet period after the activation ended has passed"
        if still_firing
        else ("every alert of the previous activation had resolved")
    )
    return Verdict("started", why, start=True)


def acknowledged(facts: IncidentFacts | None) -> Verdict:
    """The outcome of a source's acknowledgement (see the module docstring)."""
    if facts is None or not facts.this_firing:
        return Verdict(
            "acknowledged",
            "no firing alert with this key: dropped",
            activation_id=facts.activation_id if facts else None,
        )
    return Verdict(
        "acknowledged",
        "the monitoring source acknowledged the alert (not a person's acknowledgement)",
        activation_id=facts.activation_id,
    )


def resolved(facts: IncidentFacts | None, rules: KeyRules) -> Verdict:
    """The outcome of a resolved alert (see the module docstring)."""
    if facts is None or not facts.this_firing:
        return Verdict(
            "resolved",
            "no firing alert with this key: nothing to change",
            activation_id=facts.activation_id if facts else None,
        )
    act = facts.activation_id
    if facts.others_firing > 0:
        return Verdict(
            "resolved", f"{facts.others_firing} other alert(s) of the incident still fire", activation_id=act
        )
    if act is None or not facts.activation_active:
        return Verdict("resolved", "every alert of the incident resolved", activation_id=act)
    return Verdict(
        "resolved",
        f"every alert of the incident resolved: on_resolved {rules.on_resolved.value}",
        activation_id=act,
        apply=rules.on_resolved,
    )
