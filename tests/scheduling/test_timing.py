"""Cron arithmetic in the organisation's time zone (Europe/Brussels for the TAXUD plan)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from notifier.scheduling.timing import (
    CronError,
    fires_between,
    next_drill,
    next_fire,
    to_apscheduler_weekdays,
)

QUARTERLY = "0 10 1 1,4,7,10 *"
BRUSSELS = "Europe/Brussels"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quarterly_drill_keeps_ten_oclock_local_across_both_dst_changes() -> None:
    # 10:00 CET is 09:00 UTC in winter, 10:00 CEST is 08:00 UTC in summer
    assert next_drill(QUARTERLY, BRUSSELS, utc(2026, 1, 1, 9)) == utc(2026, 4, 1, 8)
    assert next_drill(QUARTERLY, BRUSSELS, utc(2026, 4, 1, 8)) == utc(2026, 7, 1, 8)
    assert next_drill(QUARTERLY, BRUSSELS, utc(2026, 7, 1, 8)) == utc(2026, 10, 1, 8)
    assert next_drill(QUARTERLY, BRUSSELS, utc(2026, 10, 1, 8)) == utc(2027, 1, 1, 9)
    # a year of drills: four, each at 10:00 local
    year = fires_between(QUARTERLY, BRUSSELS, utc(2026, 1, 1), utc(2027, 1, 1))
    assert [d.astimezone(ZoneInfo(BRUSSELS)).hour for d in year] == [10, 10, 10, 10]


def test_strictly_after() -> None:
    assert next_fire(QUARTERLY, BRUSSELS, utc(2026, 3, 31, 23)) == utc(2026, 4, 1, 8)
    assert next_fire(QUARTERLY, BRUSSELS, utc(2026, 4, 1, 8)) == utc(2026, 7, 1, 8)


def test_the_repeated_hour_in_october_fires_once() -> None:
    fires = fires_between("30 2 * * *", BRUSSELS, utc(2026, 10, 24), utc(2026, 10, 27))
    assert fires == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_the_missing_hour_in_march_fires_after_the_jump() -> None:
    # 02:30 does not exist on 29 March 2026 in Brussels; the job runs at 03:30 CEST (01:30 UTC), once
    fires = fires_between("30 2 * * *", BRUSSELS, utc(2026, 3, 28), utc(2026, 3, 30, 1))
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]


def test_crontab_weekdays_count_from_sunday() -> None:
    assert to_apscheduler_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert to_apscheduler_weekdays("0") == to_apscheduler_weekdays("7") == "sun"
    assert to_apscheduler_weekdays("5-7") == "sun,fri,sat"
    assert to_apscheduler_weekdays("*/2") == "sun,tue,thu,sat"
    assert to_apscheduler_weekdays("MON,wed") == "mon,wed"
    # Sunday 22 November 2026 -> the next Monday 09:00 is the 23rd
    assert next_fire("0 9 * * 1", "UTC", utc(2026, 11, 22)) == utc(2026, 11, 23, 9)
    assert next_fire("0 9 * * 0", "UTC", utc(2026, 11, 22, 10)) == utc(2026, 11, 29, 9)


@pytest.mark.parametrize(
    ("expr", "zone", "fragment"),
    [
        ("0 10 1 1,4,7,10", BRUSSELS, "5 fields"),
        ("0 25 * * *", BRUSSELS, "0 25 * * *"),
        ("0 10 * * 8", BRUSSELS, "day of week"),
        ("0 10 * * 5-2", BRUSSELS, "backwards"),
        (QUARTERLY, "Europe/Brusels", "unknown time zone"),
    ],
)
def test_bad_expressions_are_named(expr: str, zone: str, fragment: str) -> None:
    with pytest.raises(CronError, match=fragment):
        next_fire(expr, zone, utc(2026, 1, 1))
