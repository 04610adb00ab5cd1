"""Which refused intake requests are kept one by one, so that a flood cannot grow the store.

Every refused alert request (401, 403, 413, 422, 429, ...; an MQTT dead letter) is counted, but a
sender without a valid token can send as many as the network carries. Per source and status, the
first `keep` refusals of each `window` are kept (stored and logged, each with its reason); the rest
of that window are only counted, and the next one kept says how many were not ("+N more since
...").  The state is one small record per (source, status): both come from fixed sets (the intake
routes, the refusal statuses), so it is bounded too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class _Span:
    started: datetime
    kept: int = 0
    skipped: int = 0
    skipped_since: datetime | None = None


@dataclass(frozen=True)
class Kept:
    """A refusal to keep, and how many of its kind were counted but not kept before it."""

    skipped: int
    skipped_since: datetime | None

    def note(self) -> str:
        """' (+N more like it since 12:00:01Z, counted, not stored)' or ''."""
        if not self.skipped or self.skipped_since is None:
            return ""
        since = self.skipped_since.strftime("%H:%M:%SZ")
        return f" (+{self.skipped} more like it since {since}, counted, not stored)"


@dataclass
class RefusalSampler:
    keep: int
    window: timedelta
    _spans: dict[tuple[str, int], _Span] = field(default_factory=dict)

    def admit(self, source: str, status: int, now: datetime) -> Kept | None:
        """Kept (store and log it) or None (count it only)."""
        span = self._spans.get((source, status))
        if span is None or now - span.started >= self.window:
            skipped, since = (span.skipped, span.skipped_since) if span is not None else (0, None)
            span = self._spans[(source, status)] = _Span(started=now, skipped=skipped, skipped_since=since)
        if span.kept >= self.keep:
            span.skipped += 1
            span.skipped_since = span.skipped_since or now
            return None
        span.kept += 1
        kept = Kept(span.skipped, span.skipped_since)
        span.skipped, span.skipped_since = 0, None
        return kept
