"""Alerts from monitoring systems, and the parsers for the payloads they post.

Three HTTP shapes reach us (MQTT reuses the native one):

* **native** - our own JSON, for scripts and systems without a webhook format of their own::

      {"service": "SEED",                 # required: plan service id, name or alias
       "severity": "critical",            # required
       "summary": "SEED EMCS core down",  # required, one line
       "status": "firing",                # optional: firing (default) | resolved
       "source": "zabbix",                # optional: the system that raised it
       "description": "...",              # optional
       "dedup_key": "seed-core-1",        # optional: same key = same alert
       "incident_key": "seed-outage",     # optional: read by routes whose incident_key is `explicit`
       "starts_at": "2026-03-02T07:15:00Z",  # optional, RFC 3339; defaults to receipt time
       "labels": {"site": "dc-a"}}        # optional, string values only

  Without `dedup_key` the key is derived from the service and labels, so a script that repeats
  the same alert does not start a second call tree, and its `resolved` finds the first one.

* **Alertmanager webhook v4** - `version: "4"`, one or more alerts, each with its fingerprint.
* **Grafana webhook** - the same body with `version: "1"` plus `orgId`, `title`, `state`, `message`.

Dedup keys for the webhook formats are fingerprint + startsAt (DESIGN §4): a re-fired alert is a
new incident, a retried delivery of the same one is not. Invalid payloads raise one `PayloadError`
listing *every* problem with its JSON path, so an integrator fixes them in one round.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AlertSource = Literal["native", "alertmanager", "grafana", "mqtt", "pagerduty"]
#: "acknowledged" only from a PagerDuty event: the monitoring source's acknowledgement
AlertStatus = Literal["firing", "resolved", "acknowledged"]
_STATUSES: tuple[str, ...] = ("firing", "resolved")
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_SUMMARY_MAX = 500


class Alert(BaseModel):
    """One alert, normalised from whichever format it arrived in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: AlertSource
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    dedup_key: str
    fingerprint: str | None = None
    summary: str
    received_at: datetime
    #: Alertmanager's / Grafana's `groupKey`: the alerts it sent as one notification group
    group_key: str | None = None
    #: the sender's own incident key (native `incident_key`), used by routes keyed `by: explicit`
    incident_key: str | None = None
    #: bound by an integration key (PagerDuty routing_key): this route, or this call tree, unmatched
    route: str | None = None
    calltree: str | None = None

    @property
    def service(self) -> str | None:
        return self.labels.get("service")

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PayloadError(ValueError):
    """Every problem found in one payload, each with the JSON path of the offending field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass
class _Reader:
    """Collects problems while reading a JSON object, so parsing goes on past the first error."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def obj(self, value: object, path: str) -> Mapping[str, object] | None:
        if isinstance(value, Mapping):
            return value
        self.error(path, f"expected an object, got {_kind(value)}")
        return None

    def string(self, obj: Mapping[str, object], key: str, path: str, *, required: bool) -> str | None:
        here = _join(path, key)
        if key not in obj or obj[key] is None:
            if required:
                self.error(here, "is required")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.error(here, f"expected a string, got {_kind(value)}")
            return None
        if required and not value.strip():
            self.error(here, "must not be empty")
            return None
        return value

    def str_map(self, obj: Mapping[str, object], key: str, path: str) -> dict[str, str]:
        here = _join(path, key)
        value = obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(here, f"expected an object of strings, got {_kind(value)}")
            return {}
        out: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, str):
                out[str(name)] = item
            else:
                self.error(_join(here, str(name)), f"expected a string, got {_kind(item)}")
        return out

    def time(self, obj: Mapping[str, object], key: str, path: str, *, required: bool) -> datetime | None:
        text = self.string(obj, key, path, required=required)
        if text is None:
            return None
        parsed = parse_timestamp(text)
        if parsed is None:
            self.error(_join(path, key), f"expected an RFC 3339 timestamp, got {text[:40]!r}")
        return parsed

    def status(self, obj: Mapping[str, object], key: str, path: str, default: str | None) -> AlertStatus:
        text = self.string(obj, key, path, required=default is None)
        if text is None:
            return "firing" if default is None else _as_status(default)
        if text not in _STATUSES:
            self.error(_join(path, key), f"expected 'firing' or 'resolved', got {text[:40]!r}")
            return "firing"
        return _as_status(text)

    def raise_if_any(self) -> None:
        if self.problems:
            raise PayloadError(self.problems)


def _as_status(text: str) -> AlertStatus:
    return "resolved" if text == "resolved" else "firing"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_timestamp(text: str) -> datetime | None:
    """Read an RFC 3339 timestamp (Go writes nanoseconds; Python keeps microseconds), as UTC."""
    candidate = text.strip()
    if "." in candidate:
        head, _, tail = candidate.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        if digits > 6:
            candidate = f"{head}.{tail[:6]}{tail[digits:]}"
    try:
        parsed = datetime.fromisoformat(candidate)
        if parsed.tzinfo is None:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
        return None


def _received(received_at: datetime | None) -> datetime:
    # Callers in the engine pass their clock's time; the default is for one-off use and tests.
    return (received_at or datetime.now(UTC)).astimezone(UTC)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def parse_native(
    obj: object, *, received_at: datetime | None = None, source: AlertSource = "native"
) -> Alert:
    """Parse one native alert (see the module docstring for its shape)."""
    reader = _Reader()
    data = reader.obj(obj, "")
    if data is None:
        raise PayloadError(reader.problems)
    known = {
        "service",
        "severity",
        "summary",
        "status",
        "source",
        "description",
        "dedup_key",
        "starts_at",
        "labels",
        "annotations",
        "incident_key",
    }
    for key in data:
        if key not in known:
            reader.error(str(key), "unknown field (expected one of " + ", ".join(sorted(known)) + ")")
    service = reader.string(data, "service", "", required=True)
    severity = reader.string(data, "severity", "", required=True)
    summary = reader.string(data, "summary", "", required=True)
    origin = reader.string(data, "source", "", required=False)
    description = reader.string(data, "description", "", required=False)
    dedup_key = reader.string(data, "dedup_key", "", required=False)
    incident_key = reader.string(data, "incident_key", "", required=False)
    status = reader.status(data, "status", "", default="firing")
    starts_at = reader.time(data, "starts_at", "", required=False)
    labels = reader.str_map(data, "labels", "")
    annotations = reader.str_map(data, "annotations", "")
    reader.raise_if_any()
    assert service is not None and severity is not None and summary is not None
    labels = {**labels, "service": service, "severity": severity}
    if origin:
        labels["source"] = origin
    if description:
        annotations = {**annotations, "description": description}
    annotations.setdefault("summary", summary)
    now = _received(received_at)
    key = dedup_key or "native:" + _digest(json.dumps(sorted(labels.items())))
    return Alert(
        source=source,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at or now,
        ends_at=now if status == "resolved" else None,
        dedup_key=key,
        fingerprint=None,
        summary=summary[:_SUMMARY_MAX],
        received_at=now,
        incident_key=incident_key or None,
    )


def parse_alertmanager(obj: object, *, received_at: datetime | None = None) -> list[Alert]:
    """Parse an Alertmanager webhook (version "4") body into one Alert per entry of `alerts`."""
    return _parse_group(obj, "alertmanager", "4", received_at)


def parse_grafana(obj: object, *, received_at: datetime | None = None) -> list[Alert]:
    """Parse a Grafana alerting webhook (version "1"): Alertmanager's shape plus title/state/message."""
    return _parse_group(obj, "grafana", "1", received_at)


def parse_webhook(obj: object, *, received_at: datetime | None = None) -> list[Alert]:
    """Either webhook format, told apart by `version` ("4" Alertmanager, "1" Grafana)."""
    version = obj.get("version") if isinstance(obj, Mapping) else None
    if version == "1":
        return parse_grafana(obj, received_at=received_at)
    return parse_alertmanager(obj, received_at=received_at)


_OTHER_FORMAT = {"4": "an Alertmanager webhook", "1": "a Grafana webhook"}


def _parse_group(obj: object, source: AlertSource, version: str, received_at: datetime | None) -> list[Alert]:
    reader = _Reader()
    data = reader.obj(obj, "")
    if data is None:
        raise PayloadError(reader.problems)
    got = data.get("version")
    if got != version:
        hint = f" ({got!r} is {_OTHER_FORMAT[got]})" if isinstance(got, str) and got in _OTHER_FORMAT else ""
        reader.error("version", f"expected {version!r} for {source}{hint}")
    group_status = reader.status(data, "status", "", default="firing")
    common_labels = reader.str_map(data, "commonLabels", "")
    group_key = reader.string(data, "groupKey", "", required=False)
    title = reader.string(data, "title", "", required=False) if source == "grafana" else None
    message = reader.string(data, "message", "", required=False) if source == "grafana" else None
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        reader.error("alerts", f"expected an array, got {_kind(raw_alerts)}")
        raw_alerts = []
    elif not raw_alerts:
        reader.error("alerts", "must contain at least one alert")
    now = _received(received_at)
    alerts: list[Alert] = []
    for index, raw in enumerate(raw_alerts):
        path = f"alerts[{index}]"
        item = reader.obj(raw, path)
        if item is None:
            continue
        before = len(reader.problems)
        status = reader.status(item, "status", path, default=group_status)
        labels = {**common_labels, **reader.str_map(item, "labels", path)}
        annotations = reader.str_map(item, "annotations", path)
        starts_at = reader.time(item, "startsAt", path, required=True)
        ends_at = reader.time(item, "endsAt", path, required=False)
        fingerprint = reader.string(item, "fingerprint", path, required=False)
        if len(reader.problems) > before or starts_at is None:
            continue
        if ends_at is not None and ends_at <= _ZERO_TIME:
            ends_at = None  # Alertmanager writes the zero time while an alert fires
        identity = fingerprint or "labels:" + _digest(json.dumps(sorted(labels.items())))
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or title
            or message
            or labels.get("alertname")
            or "alert"
        )
        alerts.append(
            Alert(
                source=source,
                status=status,
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=ends_at,
                dedup_key=f"{identity}@{starts_at.isoformat()}",
                fingerprint=fingerprint,
                summary=summary.strip().splitlines()[0][:_SUMMARY_MAX] if summary.strip() else "alert",
                received_at=now,
                group_key=group_key or None,
            )
        )
    reader.raise_if_any()
    return alerts


def is_grafana_test(alert: Alert) -> bool:
    """Grafana's "Test" button on a contact point sends one alert named `TestAlert` from instance
    `Grafana` (summary "Notification test"): it proves the integration works and pages nobody."""
    return (
        alert.source == "grafana"
        and alert.labels.get("alertname") == "TestAlert"
        and alert.labels.get("instance") == "Grafana"
    )
