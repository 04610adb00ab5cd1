"""Hypothesis strategies for valid `Plan` objects, for round-trip and store property tests.

Values cover what the model allows, not only what real plans contain: arbitrary Unicode text
(except lone surrogates and NUL, which no file or database can carry), microsecond times, subnormal
and huge floats, negative tier keys. Phone numbers are the phonenumbers library's example numbers,
email addresses are at example.org. Ids are unique per collection (duplicates are the reference
checker's business, not the store's).
"""

from __future__ import annotations

from datetime import time

import phonenumbers
from hypothesis import strategies as st

from notifier.domain.plan import (
    BusinessHours,
    ChannelKind,
    Classification,
    ContactLabel,
    ContactMethod,
    Hours,
    Organisation,
    Person,
    Plan,
    ReviewPolicy,
    Role,
    Service,
    Site,
    Strategy,
    Team,
    Tier,
    Vendor,
    Weekday,
)

_REGIONS = ("BE", "LU", "FR", "DE", "NL", "SI", "PL", "IE", "GB", "US")
PHONES = tuple(
    phonenumbers.format_number(
        phonenumbers.example_number_for_type(region, kind), phonenumbers.PhoneNumberFormat.E164
    )
    for region in _REGIONS
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
)
TIMEZONES = (
    "UTC",
    "Europe/Brussels",
    "Europe/Luxembourg",
    "Europe/Ljubljana",
    "America/New_York",
    "Asia/Kolkata",
)

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}\Z")
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=24)
names = text.filter(bool)
hours_ge0 = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
hours_gt0 = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False)
id_tuples = st.lists(ids, max_size=3).map(tuple)


@st.composite
def contact_methods(draw: st.DrawFn) -> ContactMethod:
    kind = draw(st.sampled_from(ChannelKind))
    if kind is ChannelKind.EMAIL:
        address = draw(st.from_regex(r"\A[a-z][a-z0-9.]{0,12}\Z")) + "@example.org"
    else:
        address = draw(st.sampled_from(PHONES))
    return ContactMethod(
        kind=kind,
        address=address,
        label=draw(st.sampled_from(ContactLabel)),
        hours=draw(st.sampled_from(Hours)),
    )


@st.composite
def business_hours(draw: st.DrawFn) -> BusinessHours:
    start, end = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    days = tuple(draw(st.lists(st.sampled_from(Weekday), unique=True, max_size=7)))
    return BusinessHours(days=days, start=start, end=end)


tiers = st.builds(Tier, min_hours=hours_ge0, max_hours=st.none() | hours_gt0)
organisations = st.builds(
    Organisation,
    name=text,
    timezone=st.sampled_from(TIMEZONES),
    business_hours=business_hours() | st.just(BusinessHours(start=time(5), end=time(23))),
    review_policy=st.builds(
        ReviewPolicy, plan_review_days=st.integers(1, 10_000), contact_review_days=st.integers(1, 10_000)
    ),
    coordinator_role=st.none() | ids,
    plan_owner_role=st.none() | ids,
    report_recipients=id_tuples,
    rto_tiers=st.dictionaries(st.integers(-3, 9), tiers, max_size=3),
    rpo_tiers=st.dictionaries(st.integers(-3, 9), tiers, max_size=3),
    strategies=st.dictionaries(
        ids,
        st.builds(
            Strategy, description=text, min_recovery_hours=hours_ge0, max_recovery_hours=st.none() | hours_ge0
        ),
        max_size=3,
    ),
)
people = st.builds(
    Person,
    id=ids,
    name=names,
    title=text,
    timezone=st.none() | st.sampled_from(TIMEZONES),
    language=st.from_regex(r"\A[a-z]{2}(-[A-Z]{2})?\Z"),
    contacts=st.lists(contact_methods(), min_size=1, max_size=4).map(tuple),
    last_verified=st.none() | st.dates(),
    affiliation=text,
    site=st.none() | ids,
)
roles = st.builds(Role, id=ids, name=names, description=text, primary=st.none() | ids, alternates=id_tuples)
teams = st.builds(Team, id=ids, name=names, description=text, lead=ids, members=id_tuples)
services = st.builds(
    Service,
    id=ids,
    name=names,
    aliases=st.lists(text, max_size=2).map(tuple),
    business_thread=text,
    provider=text,
    classification=st.none() | st.sampled_from(Classification),
    mtd_hours=st.none() | hours_gt0,
    mtd_note=text,
    rto_tier=st.none() | st.integers(-3, 9),
    rpo_tier=st.none() | st.integers(-3, 9),
    service_window=text,
    strategy=st.none() | ids,
    owner_role=st.none() | ids,
    recovery_team=st.none() | ids,
    dependencies=id_tuples,
    note=text,
)
vendors = st.builds(
    Vendor,
    id=ids,
    name=names,
    contract_number=text,
    services=id_tuples,
    sla_response_hours=st.none() | hours_gt0,
    sla_onsite_hours=st.none() | hours_gt0,
    contacts=id_tuples,
)
sites = st.builds(Site, id=ids, name=names, kind=text, provider=text, address=text)


def _unique(items: st.SearchStrategy[object], max_size: int) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(items, max_size=max_size, unique_by=lambda item: item.id).map(tuple)  # type: ignore[attr-defined]


plans = st.builds(
    Plan,
    organisation=organisations,
    people=_unique(people, 4),
    roles=_unique(roles, 3),
    teams=_unique(teams, 2),
    services=_unique(services, 3),
    vendors=_unique(vendors, 2),
    sites=_unique(sites, 2),
)
