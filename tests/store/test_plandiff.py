"""diff_plans: entities matched by id, field paths, masking in descriptions."""

from __future__ import annotations

from notifier.domain.plan import ChannelKind, Service
from notifier.domain.plandiff import Change, ChangeKind, EntityKind, diff_plans, mask
from tests.store.storehelpers import example_plan, with_first_number


def test_no_old_plan_means_everything_added() -> None:
    changes = diff_plans(None, example_plan())
    assert all(c.kind is ChangeKind.ADDED for c in changes)
    assert [str(c) for c in changes[:2]] == ["organisation added", "person ana-novak added"]


def test_identical_plans_have_no_changes() -> None:
    assert diff_plans(example_plan(), example_plan()) == []


def test_changed_number_is_one_masked_field_change() -> None:
    old = example_plan()
    new = with_first_number(old, "ana-novak", "+38640123456")
    (change,) = diff_plans(old, new)
    assert change == Change(
        ChangeKind.CHANGED,
        EntityKind.PERSON,
        "ana-novak",
        "contacts[0].address",
        "+38631234567",
        "+38640123456",
    )
    assert str(change) == "person ana-novak: contacts[0].address changed"
    assert (
        change.describe() == "person ana-novak: contacts[0].address changed: '+3863*****67' -> '+3864*****56'"
    )


def test_service_tier_change_shows_values() -> None:
    old = example_plan()
    taric = old.service("TARIC")
    assert taric is not None
    services = tuple(s.model_copy(update={"rto_tier": 1}) if s.id == "TARIC" else s for s in old.services)
    (change,) = diff_plans(old, old.model_copy(update={"services": services}))
    assert change.describe() == "service TARIC: rto_tier changed: 2 -> 1"


def test_added_and_removed_entities_and_organisation_fields() -> None:
    old = example_plan()
    crms = Service(id="CRMS", name="CRMS", business_thread="Customs", provider="DIGIT", rto_tier=2)
    new = old.model_copy(
        update={
            "services": (*[s for s in old.services if s.id != "EOS"], crms),
            "organisation": old.organisation.model_copy(update={"timezone": "Europe/Luxembourg"}),
        }
    )
    described = [c.describe() for c in diff_plans(old, new)]
    assert described == [
        "organisation: timezone changed: 'Europe/Brussels' -> 'Europe/Luxembourg'",
        "service EOS removed",
        "service CRMS added",
    ]


def test_longer_contact_list_reports_the_new_index() -> None:
    old = example_plan()
    jan = old.person("jan-peeters")
    assert jan is not None
    extra = jan.contacts[0].model_copy(update={"kind": ChannelKind.VOICE, "address": "+32470123456"})
    people = tuple(
        p.model_copy(update={"contacts": (*p.contacts, extra)}) if p.id == jan.id else p for p in old.people
    )
    (change,) = diff_plans(old, old.model_copy(update={"people": people}))
    assert (change.field, change.old) == ("contacts[2]", None)
    assert str(change) == "person jan-peeters: contacts[2] changed"
    assert "+32470123456" not in change.describe()


def test_mask() -> None:
    assert mask("+32471234556") == "+3247*****56"
    assert mask("jane.doe@example.org") == "j***@example.org"
    assert mask("TARIC") == "TARIC"
