"""A restart or reload re-reads the plan files; confirmed verification dates in the store survive."""

from __future__ import annotations

from datetime import date

from notifier.domain.plan import ContactMethod, Organisation, Person, Plan, keep_newer_verifications


def _plan(verified: date | None) -> Plan:
    person = Person(
        id="p-romano",
        name="Giulia Romano",
        contacts=(ContactMethod(kind="sms", address="+32470990140"),),
        last_verified=verified,
    )
    return Plan(organisation=Organisation(name="TAXUD ITSM"), people=(person,))


def test_the_newer_stored_date_wins_and_an_older_one_changes_nothing() -> None:
    from_file, confirmed = _plan(date(2026, 1, 5)), _plan(date(2026, 11, 22))
    assert keep_newer_verifications(from_file, confirmed).people[0].last_verified == date(2026, 11, 22)
    assert keep_newer_verifications(confirmed, from_file) is confirmed
    assert keep_newer_verifications(_plan(None), confirmed).people[0].last_verified == date(2026, 11, 22)
    assert keep_newer_verifications(from_file, None) is from_file
