"""PagerDuty Events API v2 events, read as PagerDuty reads them, and mapped to our alerts.

Anything that can page PagerDuty can page us unchanged (Alertmanager `pagerduty_configs`, Grafana's
PagerDuty contact point, ...) by pointing its URL at `/v2/enqueue`. The rules we follow:

* `routing_key` is an integration key of ours (`notifier integration create`), bound to a route or a
  call tree: the event takes that route without matching.
* `event_action` is `trigger`, `acknowledge` or `resolve`. A trigger without `dedup_key` gets a new
  one (returned in the answer); acknowledge and resolve need one. Events apply per routing key: the
  same `dedup_key` under another key is another alert.
* `payload` (required for a trigger): `summary` (at most 1024 characters), `source`, `severity`
  (critical, error, warning, info) required; `timestamp`, `component`, `group`, `class`,
  `custom_details` optional. `links`, `images`, `client`, `client_url` are kept as they came.
* Mapping: `component` is the service (`service` label; else a string `custom_details.service`),
  `severity` the severity, `source` the `instance` label, `group` and `class` labels of those names.
* A resolve or acknowledge of an alert not firing changes nothing (PagerDuty drops them too); an
  acknowledge is the *source's* acknowledgement, recorded on the activation, never a person's.
* Problems are reported all at once with their paths; the API answers them 400 as PagerDuty does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from notifier.domain.alerts import Alert, AlertStatus, PayloadError, Problem, parse_timestamp

PdAction = Literal["trigger", "acknowledge", "resolve"]
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_MAX = 64
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
MAX_EVENT_BYTES = 512 * 1024
_STATUS: dict[str, AlertStatus] = {"trigger": "firing", "resolve": "resolved", "acknowledge": "acknowledged"}
_FIELDS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}


@dataclass(frozen=True)
class PdEvent:
    routing_key: str
    action: PdAction
    dedup_key: str  # as the sender gave it, or generated for a trigger without one
    generated: bool
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    timestamp: datetime | None


def _text(data: Mapping[str, object], key: str, path: str, problems: list[Problem], limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(Problem(path, "must be a string"))
        return None
    if len(value) > limit:
        problems.append(Problem(path, f"must be at most {limit} characters"))
        return None
    return value


def parse_event(obj: object, new_key: str | None = None) -> PdEvent:
    """Read one Events API v2 event; `PayloadError` lists every problem with its path."""
    problems: list[Problem] = []
    if not isinstance(obj, Mapping):
        raise PayloadError([Problem("", "the event must be a JSON object")])
    for key in obj:
        if key not in _FIELDS:
            problems.append(Problem(str(key), "unknown field"))
    routing_key = _text(obj, "routing_key", "routing_key", problems, ROUTING_KEY_MAX)
    if not routing_key:
        problems.append(Problem("routing_key", "is missing or blank"))
    action = obj.get("event_action")
    if action not in _STATUS:
        problems.append(Problem("event_action", "must be one of trigger, acknowledge, resolve"))
    dedup = _text(obj, "dedup_key", "dedup_key", problems, DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not dedup:
        problems.append(Problem("dedup_key", f"is required to {action}"))
    payload = obj.get("payload")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    summary = ""
    timestamp = None
    if payload is None and action == "trigger":
        problems.append(Problem("payload", "is required to trigger"))
    elif payload is not None and not isinstance(payload, Mapping):
        problems.append(Problem("payload", "must be an object"))
    elif isinstance(payload, Mapping):
        summary, timestamp = _payload(payload, action == "trigger", labels, annotations, problems)
    for key in ("links", "images"):
        value = obj.get(key)
        if value is not None and not isinstance(value, list):
            problems.append(Problem(key, "must be an array"))
        elif value:
            annotations[key] = json.dumps(value)[:4000]
    for key in ("client", "client_url"):
        text = _text(obj, key, key, problems, 1024)
        if text:
            annotations[key] = text
    if problems:
        raise PayloadError(problems)
    assert routing_key is not None and action in _STATUS
    generated = not dedup
    return PdEvent(
        routing_key=routing_key,
        action=action,
        dedup_key=dedup or new_key or uuid.uuid4().hex,
        generated=generated,
        summary=summary,
        labels=labels,
        annotations=annotations,
        timestamp=timestamp,
    )


def _payload(
    payload: Mapping[str, object],
    required: bool,
    labels: dict[str, str],
    annotations: dict[str, str],
    problems: list[Problem],
) -> tuple[str, datetime | None]:
    summary = _text(payload, "summary", "payload.summary", problems, SUMMARY_MAX)
    source = _text(payload, "source", "payload.source", problems, 1024)
    severity = _text(payload, "severity", "payload.severity", problems, 16)
    if required:
        for name, value in (("summary", summary), ("source", source), ("severity", severity)):
            if not (value or "").strip():
                problems.append(Problem(f"payload.{name}", "is missing or blank"))
    if severity and severity not in SEVERITIES:
        problems.append(Problem("payload.severity", "must be one of critical, error, warning, info"))
    timestamp = None
    stamp = _text(payload, "timestamp", "payload.timestamp", problems, 64)
    if stamp:
        timestamp = parse_timestamp(stamp)
        if timestamp is None:
            problems.append(Problem("payload.timestamp", "must be an ISO 8601 timestamp with a time zone"))
    details = payload.get("custom_details")
    for name in ("component", "group", "class"):
        text = _text(payload, name, f"payload.{name}", problems, 255)
        if text:
            labels["service" if name == "component" else name] = text
    if "service" not in labels and isinstance(details, Mapping) and isinstance(details.get("service"), str):
        labels["service"] = str(details["service"])[:255]
    if severity:
        labels["severity"] = severity
    if source:
        labels["instance"] = source
    if details is not None:
        annotations["custom_details"] = json.dumps(details, default=str)[:4000]
    if summary:
        annotations["summary"] = summary
    return (summary or "").strip(), timestamp


def to_alert(
    event: PdEvent,
    integration_id: str,
    received_at: datetime,
    route: str | None = None,
    calltree: str | None = None,
) -> Alert:
    """The alert an event stands for; its dedup key is scoped to the integration key that sent it,
    and it takes the route (or call tree) that key is bound to."""
    first_line = event.summary.splitlines()[0] if event.summary else ""
    return Alert(
        source="pagerduty",
        status=_STATUS[event.action],
        labels=event.labels,
        annotations=event.annotations,
        starts_at=event.timestamp or received_at,
        ends_at=received_at if event.action == "resolve" else None,
        dedup_key=f"pd:{integration_id}:{event.dedup_key}",
        fingerprint=None,
        summary=first_line[:500] or f"PagerDuty event {event.dedup_key[:40]}",
        received_at=received_at,
        route=route,
        calltree=calltree,
    )
