"""Message content: one set of field names, required fields per kind, defaults from the plan, and no
text on any channel ever showing an empty label (NIST SP 800-34 Rev.1 §4.2.2 notification contents)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notifier.domain.calltree import ActivationKind, CallTree, Template, TreeSet
from notifier.domain.content import CONTENT_FIELDS, SYSTEM_FIELDS, complete_content
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind, Plan
from notifier.plan.loader import load

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example() -> tuple[Plan, TreeSet]:
    loaded = load([ROOT / "config", ROOT / "calltrees"])
    assert loaded.ok, [p.format() for p in loaded.errors]
    assert loaded.plan is not None and loaded.trees is not None
    return loaded.plan, loaded.trees


def _tree(trees: TreeSet, tree_id: str) -> CallTree:
    tree = trees.tree(tree_id)
    assert tree is not None
    return tree


def test_given_fields_win_then_the_service_bia_then_tree_and_organisation_defaults(
    example: tuple[Plan, TreeSet],
) -> None:
    plan, trees = example
    tree = _tree(trees, "taxud-crisis")
    content = complete_content(
        plan, tree, ActivationKind.INCIDENT, {"nature": "SEED app node 1 down", "service": "SEED"}
    )
    assert content.fields["outage_estimate"] == "up to 3.5 h (RTO tier 1, MTD 3.5 h)"
    assert content.fields["in_charge"] == "ISCP Coordinator (Sofia Lindqvist)" or content.fields[
        "in_charge"
    ].startswith("ISCP Coordinator (")
    assert content.fields["convene"] == plan.organisation.message_defaults["convene"]
    assert content.fields["instructions"] == tree.message_defaults["instructions"]
    assert content.missing == () and content.unknown == ()
    given = complete_content(
        plan, tree, ActivationKind.INCIDENT, {"nature": "x", "service": "SEED", "outage_estimate": "45 min"}
    )
    assert given.fields["outage_estimate"] == "45 min"


def test_outage_estimate_of_a_tier_2_and_a_tier_3_service(example: tuple[Plan, TreeSet]) -> None:
    plan, trees = example
    tree = _tree(trees, "taxud-team-leads")
    taric = complete_content(plan, tree, ActivationKind.INCIDENT, {"nature": "x", "service": "TARIC"})
    assert taric.fields["outage_estimate"] == "3.5 h to 48 h (RTO tier 2, MTD 48 h)"
    tier3 = next(s for s in plan.services if s.rto_tier == 3 and s.mtd_hours is None)
    other = complete_content(plan, tree, ActivationKind.INCIDENT, {"nature": "x", "service": tier3.id})
    assert other.fields["outage_estimate"] == "more than 48 h (RTO tier 3)"


def test_required_fields_per_kind_are_reported_with_their_field_path(example: tuple[Plan, TreeSet]) -> None:
    plan, trees = example
    tree = _tree(trees, "all-staff").model_copy(update={"message_defaults": {}})
    bare = plan.model_copy(
        update={"organisation": plan.organisation.model_copy(update={"message_defaults": {}})}
    )
    incident = complete_content(bare, tree, ActivationKind.INCIDENT, {"convene_where": "bridge 1"})
    assert incident.missing == ("nature", "convene", "instructions")
    assert incident.unknown == ("convene_where",)
    problems = incident.problems("all-staff", ActivationKind.INCIDENT)
    assert problems[0].startswith("fields.convene_where: unknown message field (known: nature, ")
    assert problems[1].startswith("fields.nature: required for a incident of call tree 'all-staff'")
    drill = complete_content(bare, tree, ActivationKind.DRILL, {})
    assert drill.missing == ("scenario",)
    own = tree.model_copy(update={"required_fields": {ActivationKind.INCIDENT: ("nature", "relocation")}})
    assert complete_content(bare, own, ActivationKind.INCIDENT, {"nature": "x"}).missing == ("relocation",)


# --- no empty label, on any channel, for any example tree -------------------------------------------

_LABEL_THEN_NOTHING = re.compile(
    r"(?i)(?:^|[.:]\s+)(estimate(?: now)?|convene(?: at)?|bridge|relocation|service|in charge|scenario|"
    r"response|instructions|nature of the disruption|outage estimate|where and when to convene|event)"
    r"\s*:?\s*(?:[.,;]|$)",
    re.MULTILINE,
)


def empty_labels(text: str) -> list[str]:
    """Every place `text` shows a label or punctuation with nothing where a value should be."""
    found = [m.group(0) for m in _LABEL_THEN_NOTHING.finditer(text)]
    found += re.findall(r":[ \t]*(?:[.,;:)]|$)", text, re.MULTILINE)  # "Convene: ." / "Estimate:"
    found += re.findall(r"(?<!\.)\.[ \t]*\.(?!\.)", text)  # ". ." / ".." (an ellipsis is fine)
    found += re.findall(r" [.,;:]", text)  # " ." where a value went missing
    found += re.findall(r"\(\s*\)|\{\w+\}", text)  # "()" or a placeholder left over
    found += re.findall(r"[^\n] {2,}\S", text)  # a gap where a word was
    found += [line for line in text.splitlines() if line.rstrip().endswith(":")]
    return found


def test_the_empty_label_check_catches_what_the_issue_reported() -> None:
    for bad in (
        "ITSCP activated for SEED: SEED app node 1 down. Estimate . Convene . Reply 1 to confirm",
        "DRILL: : . Estimate .",
        "[DRILL] : notification drill",
        "Outage estimate: \nWhere and when to convene:",
    ):
        assert empty_labels(bad), bad
    assert not empty_labels("SEED down. Estimate up to 3.5 h (RTO tier 1, MTD 3.5 h). Reply 1 (ref K7Q)")


MESSAGE_KINDS = (MessageKind.ACTIVATION, MessageKind.UPDATE, MessageKind.DRILL, MessageKind.DEACTIVATION)


@pytest.mark.parametrize("with_defaults", [True, False], ids=["plan-defaults", "alert-fields-only"])
def test_every_template_of_every_example_tree_renders_no_empty_label_from_an_alert(
    example: tuple[Plan, TreeSet], with_defaults: bool
) -> None:
    """What an alert brings is a summary, a service and maybe a description; the rest comes from the
    plan's defaults, or (without them) is simply left out."""
    plan, trees = example
    alerts = [
        {"nature": "SEED app node 1 down", "service": "SEED"},
        {"nature": "TARIC tariff lookups failing", "service": "TARIC", "response": "DIGIT is restarting it"},
        {"nature": "Disk full on mail gateway"},
    ]
    checked = 0
    for route in trees.routes:
        tree = _tree(trees, route.calltree)
        for alert in alerts:
            for activation_kind in (route.kind, ActivationKind.TEST):
                completed = complete_content(plan, tree, activation_kind, alert)
                fields = completed.fields if with_defaults else alert
                message = MessageFields(
                    **{name: fields.get(name, "") for name in CONTENT_FIELDS},
                    tree=tree.name,
                    ref="K7Q",
                    person="Sofia Lindqvist",
                    node="ISCP Coordinator",
                )
                for kind in MESSAGE_KINDS:
                    for channel in ChannelKind:
                        rendered = render(kind, channel, message, tree.templates, activation_kind)
                        for text in (rendered.text, rendered.subject or ""):
                            assert not empty_labels(text), (tree.id, kind, channel, text)
                        checked += 1
    assert checked >= len(trees.routes) * len(alerts) * 2 * len(MESSAGE_KINDS) * 3


def test_every_placeholder_of_the_example_trees_is_a_known_field(example: tuple[Plan, TreeSet]) -> None:
    _, trees = example
    known = set(CONTENT_FIELDS) | set(SYSTEM_FIELDS)
    for tree in trees.calltrees:
        for kind in type(tree.templates).model_fields:
            template: Template = getattr(tree.templates, kind)
            for text in template.model_dump().values():
                names = set(re.findall(r"\{(\w+)\}", text or ""))
                assert names <= known, (tree.id, kind, names - known)
