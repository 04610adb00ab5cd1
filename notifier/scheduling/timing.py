"""When calendar jobs fire: standard crontab expressions evaluated in an IANA time zone.

APScheduler's `CronTrigger` does the calendar arithmetic (month lengths, the hour that does not
exist when clocks go forward, the one that happens twice when they go back). We keep only the
*computation* from APScheduler and not its scheduler, because `AsyncIOScheduler` waits on the wall
clock: a drill due in three months could not be tested. `next_fire` is a pure function of its
arguments; the loop in `scheduler.py` sleeps on the engine `Clock` until the instant it returns.

One trap is handled here: APScheduler 3.x numbers weekdays from Monday = 0, while crontab uses
Sunday = 0 (and 7). A crontab `1-5` means Monday to Friday; passed through unchanged it would mean
Tuesday to Saturday. `to_apscheduler_weekdays` rewrites the field into weekday names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CronError(ValueError):
    """A crontab expression or time zone that cannot be used; the message names the problem."""


def _weekday_number(token: str, expr: str) -> int:
    lowered = token.lower()
    if lowered[:3] in _NAMES and lowered.isalpha():
        return _NAMES.index(lowered[:3])
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise CronError(f"{expr!r}: day of week {token!r} is not 0-7 or a day name")


def to_apscheduler_weekdays(field: str, expr: str = "") -> str:
    """Crontab day-of-week field (0/7 = Sunday, names, ranges, steps) -> APScheduler weekday names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{expr!r}: bad step in day of week {part!r}")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = 0, 6
        elif "-" in base:
            low, _, high = base.partition("-")
            start, end = _weekday_number(low, expr), _weekday_number(high, expr)
            if high.strip() == "7":
                end = 7  # `5-7` is Friday to Sunday
        else:
            start = end = _weekday_number(base, expr)
            if slash:
                end = 7 if start else 6
        if end < start:
            raise CronError(f"{expr!r}: day-of-week range {base!r} runs backwards")
        days.update(day % 7 for day in range(start, end + 1, step))
    return ",".join(_NAMES[day] for day in sorted(days))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name!r}; use an IANA name such as Europe/Brussels") from None


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """A `CronTrigger` for a standard 5-field crontab `expr` in `timezone`."""
    values = expr.split()
    if len(values) != 5:
        raise CronError(f"{expr!r}: a crontab expression has 5 fields (minute hour day month weekday)")
    minute, hour, day, month, weekday = values
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=to_apscheduler_weekdays(weekday, expr),
            timezone=zone(timezone),
        )
    except ValueError as exc:
        if isinstance(exc, CronError):
            raise
        raise CronError(f"{expr!r}: {exc}") from None


def _repeated(fire: datetime, tz: ZoneInfo) -> bool:
    """True for the second occurrence of a wall-clock time when clocks go back (fold=1)."""
    local = fire.astimezone(tz)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def next_fire(expr: str, timezone: str, after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which `expr` fires, as aware UTC (None: never).

    Like cron, a local time that happens twice when clocks go back fires once (at its first
    occurrence): a drill at 02:30 must not run twice on the last Sunday of October. A local time
    that does not exist when clocks go forward fires an hour later in wall time (APScheduler).
    """
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    trigger = cron_trigger(expr, timezone)
    tz = zone(timezone)
    moment = after.astimezone(UTC)  # wall-clock arithmetic on a local time would lose `fold`
    for _ in range(128):  # steps over one repeated hour (at most 60 per-minute fires)
        fire: datetime | None = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        if fire is None:
            return None
        if not _repeated(fire, tz):
            return fire.astimezone(UTC)
        moment = fire.astimezone(UTC)
    return None


def next_drill(cron: str, timezone: str, after: datetime) -> datetime | None:
    """When the next scheduled drill starts (an alias that names the use)."""
    return next_fire(cron, timezone, after)


def fires_between(
    expr: str, timezone: str, start: datetime, end: datetime, limit: int = 1000
) -> list[datetime]:
    """Every fire time in (start, end], for previews (`notifier drill schedule`) and tests."""
    found: list[datetime] = []
    moment = start
    while len(found) < limit:
        fire = next_fire(expr, timezone, moment)
        if fire is None or fire > end:
            break
        found.append(fire)
        moment = fire
    return found
