"""YAML parsing keeps positions, rejects duplicate keys and reads scalars as coordinators mean them."""

from __future__ import annotations

from datetime import date

from notifier.plan.problems import Location, Problem, format_path, mask_address
from notifier.plan.yamlsource import parse_yaml

SERVICES = """\
services:
  - id: SEED
    name: System for Exchange of Excise Data
    dependencies: [EMCS, TARIC]
  - id: TARIC
    name: Integrated Tariff
"""


def test_locations_of_keys_and_items_are_one_based() -> None:
    doc = parse_yaml(SERVICES, "plan.yaml")
    assert doc.ok
    assert doc.data["services"][0]["dependencies"] == ["EMCS", "TARIC"]
    assert doc.locations[("services",)] == Location("plan.yaml", 1, 1)
    assert doc.locations[("services", 1)] == Location("plan.yaml", 5, 5)
    assert doc.locations[("services", 0, "name")] == Location("plan.yaml", 3, 5)
    assert doc.locations[("services", 0, "dependencies", 1)] == Location("plan.yaml", 4, 26)


def test_locate_falls_back_to_the_nearest_written_ancestor() -> None:
    doc = parse_yaml(SERVICES, "plan.yaml")
    assert doc.locate(("services", 1, "owner_role")) == Location("plan.yaml", 5, 5)
    assert doc.locate(("nothing", "here")) == Location("plan.yaml", 1, 1)


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    text = "people:\n  - id: adupont\n    name: Anne\n    name: Anne Dupont\n"
    doc = parse_yaml(text, "people.yaml")
    assert [p.format() for p in doc.problems] == [
        "people.yaml:4:5: people[0].name: duplicate key 'name' (first written at line 3); keep only one"
    ]
    assert doc.data["people"][0]["name"] == "Anne"


def test_duplicate_key_in_flow_mapping() -> None:
    doc = parse_yaml("roles: [{id: a, id: b}]\n", "r.yaml")
    assert len(doc.problems) == 1
    assert doc.problems[0].location == Location("r.yaml", 1, 17)


def test_tab_indentation_is_explained() -> None:
    doc = parse_yaml("people:\n\t- id: adupont\n", "tabs.yaml")
    assert not doc.ok
    problem = doc.problems[0]
    assert problem.location == Location("tabs.yaml", 2, 1)
    assert "tabs" in problem.message


def test_syntax_error_position() -> None:
    doc = parse_yaml("roles:\n  - id: [iscp-director\n  - id: b\n", "bad.yaml")
    assert not doc.ok
    assert doc.problems[0].location is not None
    assert doc.problems[0].location.line == 3
    assert doc.problems[0].message.startswith("YAML syntax error")


def test_two_documents_in_one_file() -> None:
    doc = parse_yaml("people: []\n---\nroles: []\n", "two.yaml")
    assert doc.problems[0].location == Location("two.yaml", 2, 1)
    assert "one YAML document" in doc.problems[0].message


def test_yaml_12_scalars_times_norway_and_phone_numbers() -> None:
    text = "end: 18:00\nlanguage: no\naddress: +3225550100\nrounds: 2\nwait: 1.5\nold: 010\nok: true\n"
    data = parse_yaml(text, "x.yaml").data
    assert data == {
        "end": "18:00",
        "language": "no",
        "address": "+3225550100",
        "rounds": 2,
        "wait": 1.5,
        "old": "010",
        "ok": True,
    }


def test_dates_stay_dates() -> None:
    assert parse_yaml("last_verified: 2024-03-31\n", "x.yaml").data == {"last_verified": date(2024, 3, 31)}


def test_recursive_alias_does_not_loop() -> None:
    doc = parse_yaml("a: &x\n  b: *x\n", "loop.yaml")
    assert [p.path for p in doc.problems] == [("a", "b")]


def test_python_tags_are_refused_with_a_position() -> None:
    doc = parse_yaml("name: !!python/object/apply:os.system [echo]\n", "evil.yaml")
    assert doc.problems[0].location == Location("evil.yaml", 1, 7)
    assert doc.problems[0].message.startswith("cannot read this value")


def test_control_character_and_deep_nesting_and_non_scalar_keys() -> None:
    assert not parse_yaml("name: a\x00b\n", "nul.yaml").ok
    assert not parse_yaml("[" * 5000, "deep.yaml").ok
    assert not parse_yaml("? [a, b]\n: 1\n", "key.yaml").ok


def test_empty_and_comment_only_documents_have_no_data_and_no_problem() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        doc = parse_yaml(text, "e.yaml")
        assert doc.data is None and doc.ok


def test_problem_format_and_path() -> None:
    problem = Problem(
        "unknown role 'net-lead'",
        ("calltrees", 0, "nodes", 1, "role"),
        Location("calltrees/nist.yaml", 12, 9),
    )
    assert problem.format() == "calltrees/nist.yaml:12:9: calltrees[0].nodes[1].role: unknown role 'net-lead'"
    assert Problem("no such file or directory", (), Location("x.yaml", 0, 0)).format() == (
        "x.yaml: no such file or directory"
    )
    assert format_path(()) == ""
    warning = Problem("ambiguous", ("services", 3), None, "warning")
    assert warning.format() == "services[3]: warning: ambiguous"


def test_mask_address_hides_personal_data() -> None:
    assert mask_address("+442079460101") == "+4420******01"
    assert mask_address("a.dupont@example.org") == "a***@example.org"


def test_alias_expansion_is_capped_but_a_large_plan_written_out_is_not() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":  # 10**7 values from 80 lines
        previous = chr(ord(level) - 1)
        laughs += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    doc = parse_yaml(laughs, "laughs.yaml")
    assert [p.message for p in doc.problems] == ["aliases expand the document by more than 200000 values"]
    people = "people:\n" + "".join(
        f"  - {{id: p{i}, name: Person {i}, tags: [a, b, c]}}\n" for i in range(50_000)
    )
    big = parse_yaml(people, "plan.yaml")  # ~300,000 values, none of them from an alias
    assert big.ok and len(big.data["people"]) == 50_000
