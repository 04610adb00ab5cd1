"""The IT service continuity plan: who exists, how to reach them, what they are responsible for.

This mirrors NIST SP 800-34 Rev.1 (roles held by a primary and alternates, personnel and vendor
contact lists, BIA per system) and the ITSCM plan of seed 000 (services with classification, RTO
and RPO tiers and a recovery strategy). Field-level rules live here (E.164 numbers, known time
zones); rules that need the whole plan (references, cycles, duplicates) live in `references.py`,
and what a NIST reviewer would flag lives in `review.py`.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from notifier.domain.base import Id as Id
from notifier.domain.base import Model as Model
from notifier.domain.bia import BusinessProcess, Drivers, ImpactCategory, Resource
from notifier.domain.governance import Governance

# local@domain with a dot inside the domain (not its first or last character). The runs are
# possessive: `[^@\s]+\.[^@\s]+$` tried every dot of a long domain (quadratic: 13 s for
# "a@" + "." * 20000 + "@").
_EMAIL = re.compile(r"^[^@\s]++@[^@\s][^@\s.]*+\.[^@\s]++$")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = ""
        lowered = name.lower()
        close = sorted(z for z in available_timezones() if z.lower().endswith(lowered.split("/")[-1]))
        if close:
            hint = f" (did you mean {close[0]}?)"
        raise ValueError(
            f"unknown time zone {name!r}{hint}; use an IANA name such as Europe/Brussels"
        ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class ChannelKind(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"


class Hours(StrEnum):
    """When a contact method may be used, in the person's own time zone."""

    ALWAYS = "always"
    BUSINESS = "business"
    AFTER_HOURS = "after_hours"


class ContactLabel(StrEnum):
    """The NIST contact-list columns: Work, Home, Cellular (mobile), Email; plus other."""

    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    OTHER = "other"

    @property
    def is_office(self) -> bool:
        return self is ContactLabel.WORK


class ContactMethod(Model):
    kind: ChannelKind
    address: str = Field(description="E.164 phone number for sms/voice, an email address for email")
    label: ContactLabel = ContactLabel.WORK
    hours: Hours = Hours.ALWAYS

    @field_validator("address")
    @classmethod
    def _address_fits_kind(cls, address: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is ChannelKind.EMAIL:
            if not _EMAIL.match(address):
                raise ValueError("not a valid email address")
        elif kind is not None:
            check_e164(address)
        return address


@lru_cache(maxsize=256)  # a person's SMS and voice contacts are mostly the same number, one after the other
def check_e164(number: str) -> str:
    """Raise ValueError unless `number` is a valid, complete E.164 number (+ and country code)."""
    if not number.startswith("+"):
        raise ValueError("phone number must be in E.164 form, starting with + and the country code")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise ValueError("phone number could not be read; write it as +<country code><number>") from None
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != number:
        raise ValueError("phone number must be written in E.164 form with no spaces or punctuation")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("phone number is not a valid number for its country")
    return number


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def day_number(self) -> int:
        """Monday is 0, as `datetime.weekday()`."""
        return list(Weekday).index(self)


class BusinessHours(Model):
    days: tuple[Weekday, ...] = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
    start: time = time(8, 0)
    end: time = time(18, 0)

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.start >= self.end:
            raise ValueError("business hours must start before they end")
        return self


class ReviewPolicy(Model):
    """How often the plan and, more often, the contact data must be reviewed (NIST §3.6)."""

    plan_review_days: int = Field(365, ge=1)
    contact_review_days: int = Field(90, ge=1)
    tree_test_days: int = Field(365, ge=1, description="each call tree is drilled at least this often")


class Tier(Model):
    """A BIA tier: an interval of hours (RTO or RPO)."""

    min_hours: float = Field(0, ge=0)
    max_hours: float | None = Field(None, gt=0, description="None means no upper bound")


class Strategy(Model):
    """A recovery strategy and how long recovery under it takes (cold/warm/hot standby...)."""

    description: str = ""
    min_recovery_hours: float = Field(0, ge=0)
    max_recovery_hours: float | None = None


class Invocation(Model):
    """Who may invoke the continuity plan, and when (NIST SP 800-34 Rev.1 §4.2.1: "the designated
    authority should activate the plan"; fn 31: one individual, and "a successor should be clearly
    identified"). An alert route with `invoke: ask` asks this authority before starting its tree."""

    authority_role: Id = Field(
        description="the role whose primary decides; its alternates are the ordered successors"
    )
    criteria: tuple[str, ...] = Field((), description="activation criteria, quoted to the authority")


class Organisation(Model):
    name: str
    timezone: TimeZoneName = "UTC"
    business_hours: BusinessHours = BusinessHours()
    review_policy: ReviewPolicy = ReviewPolicy()
    coordinator_role: Id | None = Field(None, description="role told about unreachable nodes")
    plan_owner_role: Id | None = Field(None, description="role told about contact-detail changes")
    report_recipients: tuple[Id, ...] = Field((), description="person ids who receive drill reports")
    message_defaults: dict[str, str] = Field(
        default_factory=dict,
        description="message field -> default text for every call tree, e.g. convene, bridge",
    )
    invocation: Invocation | None = Field(None, description="who may invoke the plan (invoke: ask)")
    rto_tiers: dict[int, Tier] = Field(default_factory=dict)
    rpo_tiers: dict[int, Tier] = Field(default_factory=dict)
    strategies: dict[Id, Strategy] = Field(default_factory=dict)
    impact_categories: dict[Id, ImpactCategory] = Field(
        default_factory=dict, description="BIA impact categories (NIST App. B), e.g. cost"
    )
    governance: Governance = Governance()


class Person(Model):
    id: Id
    name: str = Field(min_length=1)
    title: str = ""
    timezone: TimeZoneName | None = None
    language: str = Field("en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    contacts: tuple[ContactMethod, ...] = Field(min_length=1)
    last_verified: date | None = None
    affiliation: str = Field(
        "", description="empty for staff; a vendor id or organisation for external contacts"
    )
    site: Id | None = None


class Role(Model):
    """A position (NIST asks for roles, not names) held by a primary and ordered alternates."""

    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    primary: Id | None = None
    alternates: tuple[Id, ...] = ()

    @property
    def holders(self) -> tuple[str, ...]:
        return ((self.primary,) if self.primary else ()) + self.alternates


class Team(Model):
    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    lead: Id
    members: tuple[Id, ...] = ()


class Classification(StrEnum):
    MODERATE = "moderate"
    CRITICAL = "critical"
    STRATEGIC = "strategic"


class Service(Model):
    """A service with its business impact analysis."""

    id: Id
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    business_thread: str = ""
    provider: str = ""
    classification: Classification | None = None
    mtd_hours: float | None = Field(None, gt=0, description="maximum tolerable downtime")
    mtd_note: str = ""
    rto_tier: int | None = None
    rpo_tier: int | None = None
    service_window: str = ""
    strategy: Id | None = None
    owner_role: Id | None = None
    recovery_team: Id | None = None
    dependencies: tuple[Id, ...] = ()
    note: str = ""
    # The rest of the NIST SP 800-34 App. B business impact analysis (see bia.py).
    bia_date: date | None = Field(None, description="when the BIA of this service was done")
    rto_hours: float | None = Field(None, ge=0, description="RTO in hours, within the RTO tier")
    rpo_hours: float | None = Field(None, ge=0, description="RPO in hours, within the RPO tier")
    recovery_priority: int | None = Field(None, ge=1, description="1 is recovered first")
    drivers: Drivers = Drivers()
    processes: tuple[BusinessProcess, ...] = ()
    resources: tuple[Resource, ...] = ()
    workarounds: tuple[str, ...] = Field((), description="manual work-arounds while it is down")


class Vendor(Model):
    id: Id
    name: str = Field(min_length=1)
    contract_number: str = ""
    services: tuple[Id, ...] = ()
    sla_response_hours: float | None = Field(None, gt=0)
    sla_onsite_hours: float | None = Field(None, gt=0)
    contacts: tuple[Id, ...] = Field((), description="person ids of the vendor's points of contact")


class SitePurpose(StrEnum):
    """NIST SP 800-34 App. F (moderate/high templates): alternate storage, site and telecommunications."""

    PRIMARY = "primary"
    ALTERNATE_SITE = "alternate_site"  # alternate processing site
    ALTERNATE_STORAGE = "alternate_storage"  # offsite storage of backup media and plan copies
    ALTERNATE_TELECOM = "alternate_telecom"  # alternate telecommunications capacity


class Site(Model):
    id: Id
    name: str = Field(min_length=1)
    kind: str = Field("", description="e.g. data_centre, service_desk, alternate")
    provider: str = ""
    address: str = ""
    purpose: SitePurpose = SitePurpose.PRIMARY
    readiness: str = Field("", description="e.g. cold, warm, hot, mirrored")
    vendor: Id | None = Field(None, description="the vendor providing the site or capacity")
    agreement: str = Field("", description="contract or agreement reference")
    contacts: tuple[Id, ...] = Field((), description="person ids of the site's points of contact")
    authorised_roles: tuple[Id, ...] = Field(
        (), description="roles authorised to go there, retrieve media or use the capacity"
    )
    backs_up: tuple[Id, ...] = Field((), description="site ids this site stands in for")


class Plan(Model):
    organisation: Organisation
    people: tuple[Person, ...] = ()
    roles: tuple[Role, ...] = ()
    teams: tuple[Team, ...] = ()
    services: tuple[Service, ...] = ()
    vendors: tuple[Vendor, ...] = ()
    sites: tuple[Site, ...] = ()

    # Lookups by id, indexed once per (immutable) plan: a 10,000-person snapshot would otherwise
    # scan the people list once per node. The first entry wins where ids repeat, as a scan would.

    @cached_property
    def _people_by_id(self) -> dict[str, Person]:
        return _index(self.people)

    @cached_property
    def _roles_by_id(self) -> dict[str, Role]:
        return _index(self.roles)

    @cached_property
    def _teams_by_id(self) -> dict[str, Team]:
        return _index(self.teams)

    @cached_property
    def _services_by_id(self) -> dict[str, Service]:
        return _index(self.services)

    def person(self, person_id: str) -> Person | None:
        return self._people_by_id.get(person_id)

    def role(self, role_id: str) -> Role | None:
        return self._roles_by_id.get(role_id)

    def team(self, team_id: str) -> Team | None:
        return self._teams_by_id.get(team_id)

    def service(self, service_id: str) -> Service | None:
        return self._services_by_id.get(service_id)


def _index(items: tuple[_HasId, ...]) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for item in items:
        index.setdefault(item.id, item)
    return index


def keep_newer_verifications(plan: Plan, stored: Plan | None) -> Plan:
    """`plan` (read from the files) with each person's `last_verified` raised to the stored date when
    the store knows a newer one: a contact who confirmed their details by SMS (a new plan version)
    must not be made overdue again by the next restart or reload re-reading an older file."""
    if stored is None:
        return plan
    people = []
    changed = False
    for person in plan.people:
        known = stored.person(person.id)
        newer = known.last_verified if known is not None else None
        if newer is not None and (person.last_verified is None or newer > person.last_verified):
            people.append(person.model_copy(update={"last_verified": newer}))
            changed = True
        else:
            people.append(person)
    return plan.model_copy(update={"people": tuple(people)}) if changed else plan
