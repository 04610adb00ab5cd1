"""The fast path (no nodes, no positions) reads what the positional walker reads, and leaves every
document it cannot read exactly to the walker; positions come back when they are asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.plan.loader import load_texts
from notifier.plan.problems import Location
from notifier.plan.yamlplain import read_plain
from notifier.plan.yamlsource import _PLAIN, _parse_with_positions, parse_yaml
from tests.plan.helpers import VALID, edited, line_of, valid_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    [*VALID.glob("*.yaml"), *(ROOT / "config").glob("*.yaml"), *(ROOT / "calltrees").glob("*.yaml")]
)

PLAIN = [
    "end: 18:00\nlanguage: no\naddress: +3225550100\nrounds: 2\nwait: 1.5\nold: 010\nok: true\n",
    "last_verified: 2024-03-31\nat: 2024-03-31 10:00:00\nnothing: ~\nalso: null\nempty:\n",
    "rto_tiers: {1: {max_hours: 4}, 2: {min_hours: 4, max_hours: 24}}\nhex: 0x1F\noct: 0o17\n",
    "n: [-1, +12, 1_000, .5, 1e3, -.inf, .nan, 'quoted 1', \"2\", Yes, NO, off, =x]\n",
    "? 2024-03-31\n: date key\n? null\n: null key\ntrue: bool key\n1.5: float key\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "",
    "# only a comment\n",
    "---\n",
    "--- [a, b]\n...\n",
    "[[[[]]], {}, {a: {b: {c: []}}}]\n",
]

NOT_PLAIN = [
    "a: &x {b: 1}\nc: *x\n",  # anchors and aliases
    "base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n",  # a merge key
    "name: !!str 123\n",  # an explicit tag
    "name: !custom x\n",
    "people:\n  - id: a\n    id: b\n",  # a duplicate key
    "1: one\n1.0: the same key\n",
    "? [a, b]\n: 1\n",  # a key that is a list
    "=: x\n",  # the value key
    "name: a\x00b\n",  # a control character
    "roles:\n  - id: [open\n  - id: b\n",  # a syntax error
    "a: 1\n---\nb: 2\n",  # two documents
    "d: 2024-13-45\n",  # a date that does not read
    "[" * 150 + "]" * 150,  # deeper than MAX_DEPTH
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_documents_read_as_the_walker_reads_them(text: str) -> None:
    plain, data = read_plain(_PLAIN, text)
    walked = _parse_with_positions(text, "x.yaml")
    assert plain and walked.ok
    assert data == walked.data
    assert [type(v) for v in _leaves(data)] == [type(v) for v in _leaves(walked.data)]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_example_and_fixture_files_take_the_fast_path_with_the_same_data(path: Path) -> None:
    text = path.read_text()
    doc = parse_yaml(text, path.name)
    assert doc.text is not None, "read by the walker: the fast path gave up on an ordinary file"
    assert doc.data == _parse_with_positions(text, path.name).data


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_anything_else_is_left_to_the_walker(text: str) -> None:
    assert read_plain(_PLAIN, text) == (False, None)
    doc = parse_yaml(text, "x.yaml")
    walked = _parse_with_positions(text, "x.yaml")
    assert doc.text is None  # read with positions at once
    assert (doc.data, doc.problems, doc.locations) == (walked.data, walked.problems, walked.locations)


def test_positions_are_read_when_first_asked_for_and_match_the_walker() -> None:
    text = valid_text("plan.yaml")
    doc = parse_yaml(text, "plan.yaml")
    assert doc.ok and doc.text is not None and doc._locations is None
    assert doc.locations == _parse_with_positions(text, "plan.yaml").locations
    assert doc.text is None  # the text is not kept once positions are known
    assert doc.locate(("people",)) == Location("plan.yaml", line_of(text, "people:"), 1)


def test_a_validation_error_in_a_fast_path_file_is_reported_at_its_line() -> None:
    plan = valid_text("plan.yaml")
    trees = valid_text("nist.yaml")
    bad = edited(plan, "timezone: Europe/Brussels", "timezone: Europe/Brusels")
    loaded = load_texts({"plan.yaml": bad, "nist.yaml": trees})
    problems = [p for p in loaded.errors if "time zone" in p.message]
    assert problems and problems[0].location is not None
    assert problems[0].location.line == line_of(bad, "Europe/Brusels")


def _leaves(data: object) -> list[object]:
    if isinstance(data, dict):
        return [x for k, v in data.items() for x in (k, *_leaves(v))]
    if isinstance(data, list):
        return [x for v in data for x in _leaves(v)]
    return [data]
