"""Plan and snapshot models share the set of field names they were given (domain/base.py): one
set object per distinct set, not one per instance, and nothing built later can change another's."""

from __future__ import annotations

from notifier.domain.plan import ChannelKind, ContactMethod, Person


def _person(i: int, **more: object) -> Person:
    contacts = [{"kind": "sms", "address": "+32471000000"}]
    return Person.model_validate({"id": f"p{i}", "name": f"Person {i}", "contacts": contacts, **more})


def test_models_given_the_same_fields_share_one_set() -> None:
    first, second = _person(1), _person(2)
    assert first.model_fields_set == {"id", "name", "contacts"}
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.contacts[0].__pydantic_fields_set__ is second.contacts[0].__pydantic_fields_set__
    titled = _person(3, title="CISO")
    assert titled.model_fields_set == {"id", "name", "contacts", "title"}
    assert titled.__pydantic_fields_set__ is not first.__pydantic_fields_set__
    built = ContactMethod(kind=ChannelKind.SMS, address="+32471000001")
    assert built.__pydantic_fields_set__ is first.contacts[0].__pydantic_fields_set__


def test_a_copy_with_changes_does_not_change_the_shared_set() -> None:
    first, second = _person(1), _person(2)
    copied = first.model_copy(update={"title": "CISO"})
    assert copied.model_fields_set == {"id", "name", "contacts", "title"}
    assert first.model_fields_set == second.model_fields_set == {"id", "name", "contacts"}
    assert copied.model_dump(exclude_unset=True)["title"] == "CISO"
    assert "title" not in second.model_dump(exclude_unset=True)


def test_copies_share_their_set_too() -> None:
    first, second = _person(1), _person(2)
    one = first.model_copy(update={"title": "CISO"})
    other = second.model_copy(update={"title": "CIO"})
    assert one.__pydantic_fields_set__ is other.__pydantic_fields_set__
    assert first.model_copy().__pydantic_fields_set__ is first.__pydantic_fields_set__
