"""Loading, merging and validating plan and call-tree files, with positions that survive merging."""

from __future__ import annotations

from pathlib import Path

from notifier.domain.calltree import TreeSet
from notifier.domain.plan import Plan
from notifier.plan.loader import discover, load, load_plan_text, load_texts
from notifier.plan.problems import Location
from notifier.plan.sources import read_source
from tests.plan.helpers import VALID, copy_valid, edit_file, edited, line_of, valid_text


def messages(loaded_problems: list) -> list[str]:
    return [p.format() for p in loaded_problems]


def test_valid_fixture_loads_into_models() -> None:
    loaded = load([VALID])
    assert loaded.ok, messages(loaded.problems)
    assert isinstance(loaded.plan, Plan) and isinstance(loaded.trees, TreeSet)
    assert loaded.plan.service("SEED") is not None
    assert loaded.plan.role("iscp-coordinator") is not None
    assert loaded.trees.tree("nist-iscp") is not None
    assert sorted(Path(f).name for f in loaded.files) == ["nist.yaml", "plan.yaml"]


def test_discover_classifies_by_top_level_keys(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    (copy / "notifier.yaml").write_text("database_url: sqlite+aiosqlite:///var/notifier.db\n")
    (copy / "README.txt").write_text("not yaml")
    plans, trees = discover([copy])
    assert [p.name for p in plans] == ["plan.yaml"]
    assert [p.name for p in trees] == ["nist.yaml"]
    assert load([copy]).ok


def test_explicitly_named_unknown_file_is_an_error(tmp_path: Path) -> None:
    daemon = tmp_path / "notifier.yaml"
    daemon.write_text("database_url: sqlite+aiosqlite:///var/notifier.db\n")
    loaded = load([daemon])
    assert not loaded.ok
    assert "not a plan or call-tree file" in loaded.errors[0].message


def test_invalid_phone_number_is_located_and_worded_for_coordinators() -> None:
    text = edited(valid_text("plan.yaml"), '"+442079460104"', '"+4420794601"')
    loaded = load_plan_text(text, "config/plan.yaml")
    assert loaded.plan is None
    [problem] = loaded.errors
    line = line_of(text, '"+4420794601"')
    assert problem.format() == (
        f"config/plan.yaml:{line}:21: people[3].contacts[0].address: "
        "phone number is not a valid number for its country"
    )


def test_every_bad_item_is_reported_not_only_the_first() -> None:
    text = valid_text("plan.yaml")
    text = edited(text, "name: Anne Dupont", "name: Anne Dupont\n    emial: a@example.org")
    text = edited(text, "label: work}", "label: desk}")
    text = edited(
        text, "title: Application recovery lead", "title: Application recovery lead\n    language: Dutch"
    )
    loaded = load_plan_text(text, "plan.yaml")
    found = {(p.path, p.message.split(" (")[0].split(";")[0]) for p in loaded.errors}
    assert ("people", 0, "emial") in {p for p, _ in found}
    assert ("people", 1, "contacts", 0, "label") in {p for p, _ in found}
    assert ("people", 3, "language") in {p for p, _ in found}
    unknown = next(p for p in loaded.errors if p.path == ("people", 0, "emial"))
    assert unknown.message.startswith("unknown field 'emial' (allowed: id, name, title,")
    assert unknown.location == Location("plan.yaml", line_of(text, "emial"), 5)
    # the broken people still exist: roles naming them do not get a second, misleading error
    assert not any("unknown person" in p.message for p in loaded.problems)


def test_merged_files_report_positions_in_their_own_file(tmp_path: Path) -> None:
    plan = valid_text("plan.yaml")
    head, people_and_rest = plan.split("\npeople:\n", 1)
    people, rest = people_and_rest.split("\nroles:\n", 1)
    (tmp_path / "plan-a.yaml").write_text(head + "\nroles:\n" + rest)
    extra = (
        "  - id: ejones\n    name: Eve Jones\n    site: dc-primry\n    contacts:\n"
        "      - {kind: email, address: e.jones@example.org}\n"
    )
    (tmp_path / "plan-b.yaml").write_text("people:\n" + people + extra)
    (tmp_path / "trees.yaml").write_text(valid_text("nist.yaml"))
    loaded = load([tmp_path])
    [problem] = loaded.errors
    assert problem.location == Location(
        str(tmp_path / "plan-b.yaml"), line_of("people:\n" + people + extra, "site: dc-primry"), 5
    )
    assert problem.path == ("people", 4, "site")
    assert problem.message == "unknown site 'dc-primry'; did you mean 'dc-primary'?"
    assert loaded.locate("plan", ("people", 4, "site")) == problem.location
    assert loaded.locate("plan", ("roles", 0)) == Location(
        str(tmp_path / "plan-a.yaml"), line_of(head + "\nroles:\n" + rest, "iscp-director,"), 5
    )


def test_merged_index_skips_invalid_items_but_positions_stay_right() -> None:
    first = "organisation: {name: DG TAXUD ITSM}\nsites:\n  - {id: dc-primary}\n  - {id: dc-two, name: Two}\n"
    second = (
        "people:\n  - id: adupont\n    name: Anne\n    site: dc-tree\n"
        "    contacts: [{kind: email, address: a.dupont@example.org}]\n"
    )
    loaded = load_texts({"a.yaml": first, "b.yaml": second})
    assert messages(loaded.errors) == [
        "a.yaml:3:5: sites[0].name: required field is missing",
        "b.yaml:4:5: people[0].site: unknown site 'dc-tree'; did you mean 'dc-two'?",
    ]


def test_organisation_exactly_once() -> None:
    org = "organisation: {name: DG TAXUD ITSM}\n"
    twice = load_texts({"a.yaml": org, "b.yaml": org})
    assert messages(twice.errors) == [
        "b.yaml:1:1: organisation: 'organisation' is already defined at a.yaml:1:1; a plan has exactly one"
    ]
    missing = load_texts({"people.yaml": "people: []\n"})
    assert "no plan file defines 'organisation'" in missing.errors[0].message


def test_unknown_section_with_hint() -> None:
    loaded = load_texts({"p.yaml": "organisation: {name: X}\nservice:\n  - id: SEED\n"})
    assert messages(loaded.errors) == [
        "p.yaml:2:1: service: unknown section 'service' (allowed: organisation, people, roles, teams, "
        "services, vendors, sites, calltrees, policies, routes); did you mean 'services'?"
    ]


def test_malformed_inputs_become_problems(tmp_path: Path) -> None:
    cases = {
        "empty.yaml": ("", "the file is empty"),
        "list.yaml": ("- organisation: {name: X}\n", "expected a mapping of sections at the top level"),
        "tabs.yaml": ("organisation:\n\tname: X\n", "YAML does not allow tabs"),
        "dupes.yaml": ("organisation: {name: X}\norganisation: {name: Y}\n", "duplicate key 'organisation'"),
        "people-map.yaml": (
            "organisation: {name: X}\npeople: {id: adupont}\n",
            "expected a list of people (lines starting with '- '), got a mapping",
        ),
        "person-list.yaml": (
            "organisation: {name: X}\npeople:\n  - [adupont]\n",
            "expected a mapping of fields (name: value lines), got a list",
        ),
        "scalar.yaml": ("just text\n", "got a single value"),
        "broken.yaml": ("organisation: {name: X\n", "YAML syntax error"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        loaded = load([path])
        assert not loaded.ok, name
        assert any(expected in p.message for p in loaded.errors), (name, messages(loaded.problems))
        assert all(p.location is not None and p.location.file == str(path) for p in loaded.errors), name


def test_missing_paths_directories_and_unreadable_files(tmp_path: Path) -> None:
    missing = load([tmp_path / "nope.yaml"])
    assert messages(missing.errors) == [f"{tmp_path / 'nope.yaml'}: no such file or directory"]
    (tmp_path / "empty-dir").mkdir()
    nothing = load([tmp_path / "empty-dir"])
    assert not nothing.ok
    assert any("no .yaml or .yml files" in p.message for p in nothing.warnings)
    unreadable = read_source(tmp_path / "empty-dir", explicit=True)
    assert unreadable.doc.problems[0].message.startswith("cannot read")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("organisation: {name: Caf\xe9}\n".encode("latin-1"))
    loaded = load([latin])
    assert loaded.errors[0].location == Location(str(latin), 1, 25)
    assert "UTF-8" in loaded.errors[0].message


def test_call_trees_alone_are_checked_without_the_plan(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    edit_file(copy / "nist.yaml", "calltree: nist-iscp", "calltree: nist-iscb")
    loaded = load([copy / "nist.yaml"])
    assert [p.message for p in loaded.errors] == ["unknown call tree 'nist-iscb'; did you mean 'nist-iscp'?"]
    assert any("no plan file given" in p.message for p in loaded.warnings)


def test_bad_duration_and_template_field_in_a_call_tree(tmp_path: Path) -> None:
    copy = copy_valid(tmp_path)
    edit_file(copy / "nist.yaml", "time_limit: 1h", "time_limit: soon")
    edit_file(copy / "nist.yaml", "{kind: voice, wait: 3m}", "{kind: pager, wait: 3m}")
    loaded = load([copy])
    assert sorted(p.message for p in loaded.errors) == [
        "'pager' is not allowed here; use one of: sms, voice, email",
        "'soon' is not a duration; write it as 30s, 5m, 1h30m or 2d",
    ]
    assert loaded.trees is None and loaded.plan is not None
