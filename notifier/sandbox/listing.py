"""Twilio's list endpoints: `GET .../Messages.json` and `GET .../Calls.json`, with paging.

The wire format is the 2010-04-01 API's (twilio-oai `ListMessageResponse` / `ListCallResponse`):
records newest first under `messages` / `calls`, beside `page`, `page_size`, `start`, `end`,
`uri`, `first_page_uri`, `next_page_uri` (with an opaque `PageToken`) and `previous_page_uri`;
`next_page_uri` is null on the last page. Filters as documented:

- Messages: `To`, `From`, `DateSent` (that day), `DateSent<` (on or before), `DateSent>` (on or
  after); a message not sent yet (still queued, `date_sent` null) matches no `DateSent` filter.
- Calls: `To`, `From`, `ParentCallSid`, `Status`, and `StartTime` / `EndTime` with `<` and `>`
  the same way (a call not started matches no `StartTime` filter).

`DateSent` (equality) compares days; `<` and `>` given a time (`2026-12-04T21:30:00Z`, what the
SDK sends for a datetime) compare to the second, given `YYYY-MM-DD` they compare days.
`PageSize` is 1-1000 (default 50).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from notifier.sandbox.records import API_VERSION, PlacedCall, SentMessage
from notifier.sandbox.schema import TwilioError

R = TypeVar("R", SentMessage, PlacedCall)
_DATE_PARAMS = ("", "<", ">")
MAX_PAGE_SIZE = 1000


def _moment(name: str, raw: str) -> tuple[datetime | date, bool]:
    """(value, has a time) of a date filter; 400/20001 when it is neither a date nor a datetime."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text), False
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid value for {name}: {raw!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), True


def _date_filter(query: Any, name: str, read: Callable[[R], datetime | None]) -> list[Callable[[R], bool]]:
    checks: list[Callable[[R], bool]] = []
    for suffix in _DATE_PARAMS:
        raw = query.get(name + suffix)
        if raw is None:
            continue
        checks.append(_date_check(read, suffix, *_moment(name + suffix, raw)))
    return checks


def _date_check(
    read: Callable[[R], datetime | None], suffix: str, bound: date | datetime, timed: bool
) -> Callable[[R], bool]:
    # equality is by day (the SDK sends a date as its midnight); `<` and `>` to the second when a
    # time was given
    by_day = not timed or suffix == ""
    if by_day and isinstance(bound, datetime):
        bound = bound.date()

    def check(record: R) -> bool:
        value = read(record)
        if value is None:
            return False
        here: Any = value.astimezone(UTC).date() if by_day else value.astimezone(UTC)
        if suffix == "<":
            return bool(here <= bound)
        if suffix == ">":
            return bool(here >= bound)
        return bool(here == bound)

    return check


def _page_size(query: Any) -> int:
    raw = query.get("PageSize", "50")
    try:
        size = int(raw)
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid PageSize: {raw!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise TwilioError(400, 20001, f"PageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _page_number(query: Any) -> int:
    raw = query.get("Page", "0")
    try:
        number = int(raw)
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid Page: {raw!r}") from None
    if number < 0:
        raise TwilioError(400, 20001, "Page must not be negative")
    return number


def _uri(path: str, filters: dict[str, str], size: int, number: int, token: str | None) -> str:
    params = {**filters, "PageSize": str(size), "Page": str(number)}
    if token:
        params["PageToken"] = token
    return f"{path}?{urlencode(params)}"


def page(
    request: web.Request, key: str, records: Sequence[R], checks: list[Callable[[R], bool]]
) -> dict[str, Any]:
    """The list response for `records` (oldest first, as kept) that pass every check, newest first."""
    query = request.query
    size, number = _page_size(query), _page_number(query)
    matching = [r for r in reversed(records) if all(check(r) for check in checks)]
    start = size * number
    token = query.get("PageToken")
    if token and number > 0:
        # the token names the last record of the page before: later records keep their places even
        # when new ones were created meanwhile (newest first), as Twilio's PageToken does
        after = next((i for i, r in enumerate(matching) if "PA" + r.sid == token), None)
        if after is not None:
            start = after + 1
    chunk = matching[start : start + size]
    filters = {k: v for k, v in query.items() if k not in ("PageSize", "Page", "PageToken")}
    has_next = start + size < len(matching)
    return {
        key: [r.resource() for r in chunk],
        "end": start + len(chunk) - 1 if chunk else start,
        "first_page_uri": _uri(request.path, filters, size, 0, None),
        "next_page_uri": _uri(request.path, filters, size, number + 1, "PA" + chunk[-1].sid)
        if has_next and chunk
        else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": _uri(request.path, filters, size, number - 1, None) if number > 0 else None,
        "start": start,
        "uri": _uri(request.path, filters, size, number, token),
    }


def _equals(query: Any, name: str, read: Callable[[R], str | None]) -> list[Callable[[R], bool]]:
    wanted = query.get(name)
    if wanted is None:
        return []
    return [lambda record: read(record) == wanted]


def message_checks(query: Any) -> list[Callable[[SentMessage], bool]]:
    def to(m: SentMessage) -> str | None:
        return m.to

    def sender(m: SentMessage) -> str | None:
        return m.from_ or m.messaging_service_sid

    def sent(m: SentMessage) -> datetime | None:
        return m.sent_at

    return [
        *_equals(query, "To", to),
        *_equals(query, "From", sender),
        *_date_filter(query, "DateSent", sent),
    ]


def call_checks(query: Any) -> list[Callable[[PlacedCall], bool]]:
    def to(c: PlacedCall) -> str | None:
        return c.to

    def caller(c: PlacedCall) -> str | None:
        return c.from_

    def started(c: PlacedCall) -> datetime | None:
        return c.start_time

    def ended(c: PlacedCall) -> datetime | None:
        return c.end_time

    checks: list[Callable[[PlacedCall], bool]] = [
        *_equals(query, "To", to),
        *_equals(query, "From", caller),
        *_date_filter(query, "StartTime", started),
        *_date_filter(query, "EndTime", ended),
    ]
    if query.get("ParentCallSid") is not None:
        checks.append(lambda c: False)  # the sandbox places no child calls
    statuses = query.getall("Status", [])
    if statuses:
        checks.append(lambda c: c.status in statuses)
    return checks


__all__ = ["API_VERSION", "call_checks", "message_checks", "page"]
