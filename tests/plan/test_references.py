"""Cross-reference checks: each rule on a broken copy of the valid TAXUD/NIST fixture."""

from __future__ import annotations

import pytest

from notifier.domain.references import check_references, close_match
from notifier.plan.loader import Loaded, load_texts
from tests.plan.helpers import edited, line_of, valid_text

PLAN, TREES = "plan.yaml", "nist.yaml"


def load_edited(file: str, old: str, new: str) -> tuple[Loaded, str]:
    texts = {PLAN: valid_text(PLAN), TREES: valid_text(TREES)}
    texts[file] = edited(texts[file], old, new)
    return load_texts(texts), texts[file]


CASES = [
    # (file, old, new, path of the problem, message)
    (
        PLAN,
        "primary: cjansen}",
        "primary: cjansn}",
        ("roles", 2, "primary"),
        "unknown person 'cjansn'; did you mean 'cjansen'?",
    ),
    (PLAN, "alternates: [cjansen]", "alternates: [zz]", ("roles", 3, "alternates", 0), "unknown person 'zz'"),
    (
        PLAN,
        "alternates: [cjansen]",
        "alternates: [cjansen, cjansen]",
        ("roles", 3, "alternates", 1),
        "person 'cjansen' is listed twice in role 'app-lead'",
    ),
    (
        PLAN,
        "alternates: [cjansen]",
        "alternates: [dkowalski]",
        ("roles", 3, "alternates", 0),
        "person 'dkowalski' is listed twice in role 'app-lead'",
    ),
    (
        PLAN,
        "lead: iscp-director,",
        "lead: iscp-directr,",
        ("teams", 0, "lead"),
        "unknown role 'iscp-directr'; did you mean 'iscp-director'?",
    ),
    (
        PLAN,
        "members: [network-lead]",
        "members: [net-lead]",
        ("teams", 1, "members", 0),
        "unknown role 'net-lead'; did you mean 'network-lead'?",
    ),
    (
        PLAN,
        "    owner_role: iscp-director",
        "    owner_role: owner",
        ("services", 0, "owner_role"),
        "unknown role 'owner'",
    ),
    (
        PLAN,
        "strategy: gradual",
        "strategy: Gradual",
        ("services", 2, "strategy"),
        "unknown recovery strategy 'Gradual'; did you mean 'gradual'?",
    ),
    (
        PLAN,
        "    rto_tier: 1\n",
        "    rto_tier: 4\n",
        ("services", 0, "rto_tier"),
        "unknown RTO tier 4; the organisation defines tiers 1, 2, 3",
    ),
    (
        PLAN,
        "dependencies: [TARIC]",
        "dependencies: [TARIK]",
        ("services", 1, "dependencies", 0),
        "unknown service 'TARIK'; did you mean 'TARIC'?",
    ),
    (
        PLAN,
        "services: [SPEED-ECN]",
        "services: [SPED-ECN]",
        ("vendors", 0, "services", 0),
        "unknown service 'SPED-ECN'; did you mean 'SPEED-ECN'?",
    ),
    (
        PLAN,
        "sla_response_hours: 4}",
        "sla_response_hours: 4, contacts: [telco-desk]}",
        ("vendors", 0, "contacts", 0),
        "unknown person 'telco-desk'",
    ),
    (
        PLAN,
        "coordinator_role: iscp-coordinator",
        "coordinator_role: coordinator",
        ("organisation", "coordinator_role"),
        "unknown role 'coordinator'; did you mean 'iscp-coordinator'?",
    ),
    (
        PLAN,
        "report_recipients: [adupont]",
        "report_recipients: [adupond]",
        ("organisation", "report_recipients", 0),
        "unknown person 'adupond'; did you mean 'adupont'?",
    ),
    (
        PLAN,
        "    strategy: gradual\n",
        "    strategy: gradual\n  - {id: EOS, name: EOS copy}\n",
        ("services", 3, "id"),
        "duplicate service id 'EOS'; ids must be unique",
    ),
    (
        PLAN,
        '"+442079460104"}\n',
        '"+442079460104"}\n  - {id: cjansen, name: C, contacts: [{kind: sms, address: "+442079460105"}]}\n',
        ("people", 4, "id"),
        "duplicate person id 'cjansen'; ids must be unique",
    ),
    (
        PLAN,
        "service_desk, provider: ITSM}\n",
        "service_desk, provider: ITSM}\n  - {id: dc-primary, name: Two}\n",
        ("sites", 2, "id"),
        "duplicate site id 'dc-primary'; ids must be unique",
    ),
    (
        TREES,
        "    policy: standard\n",
        "    policy: standrd\n",
        ("calltrees", 0, "policy"),
        "unknown escalation policy 'standrd'; did you mean 'standard'?",
    ),
    (
        TREES,
        "              - team: app-recovery",
        "              - team: app-recovry",
        ("calltrees", 0, "nodes", 0, "children", 0, "children", 0, "team"),
        "unknown team 'app-recovry'; did you mean 'app-recovery'?",
    ),
    (
        TREES,
        "              - team: app-recovery",
        "              - {person: ejones}",
        ("calltrees", 0, "nodes", 0, "children", 0, "children", 0, "person"),
        "unknown person 'ejones'",
    ),
    (
        TREES,
        "              - team: app-recovery",
        "              - {team: app-recovery, policy: loud}",
        ("calltrees", 0, "nodes", 0, "children", 0, "children", 0, "policy"),
        "unknown escalation policy 'loud'",
    ),
    (
        TREES,
        "calltree: nist-iscp",
        "calltree: nist",
        ("routes", 0, "calltree"),
        "unknown call tree 'nist'; did you mean 'nist-iscp'?",
    ),
    (
        TREES,
        "calltree: nist-iscp",
        "calltree: nist-iscp\n    policy: urgent",
        ("routes", 0, "policy"),
        "unknown escalation policy 'urgent'",
    ),
    (
        TREES,
        "services: [SEED]",
        "services: [SED]",
        ("routes", 0, "match", "services", 0),
        "unknown service 'SED'; did you mean 'SEED'?",
    ),
    (
        TREES,
        "  - id: seed-down\n",
        "  - id: seed-down\n    calltree: nist-iscp\n  - id: seed-down\n",
        ("routes", 1, "id"),
        "duplicate route id 'seed-down'; ids must be unique",
    ),
    (
        TREES,
        "              - role: network-lead",
        "              - role: network-lead\n              - role: network-lead",
        ("calltrees", 0, "nodes", 0, "children", 0, "children", 2, "role"),
        "node 'network-lead' appears twice in this tree; give one of them a distinct 'id'",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "path", "message"), CASES)
def test_reference_rule(file: str, old: str, new: str, path: tuple, message: str) -> None:
    loaded, text = load_edited(file, old, new)
    errors = [(p.path, p.message.split(" (see ")[0]) for p in loaded.errors]
    assert errors == [(path, message)]
    [problem] = loaded.errors
    assert problem.location is not None and problem.location.file == file
    end_of_edit = text.index(new) + len(new.rstrip("\n"))
    assert problem.location.line == text[:end_of_edit].count("\n") + 1


def test_dependency_cycle_names_the_services_in_order() -> None:
    texts = {PLAN: valid_text(PLAN), TREES: valid_text(TREES)}
    texts[PLAN] = edited(
        texts[PLAN],
        "    recovery_team: app-recovery\n  - id: EOS",
        "    recovery_team: app-recovery\n    dependencies: [EMCS]\n"
        "  - id: EMCS\n    name: Excise Movement and Control System\n    dependencies: [SEED]\n"
        "  - id: EOS",
    )
    loaded = load_texts(texts)
    [problem] = loaded.errors
    assert problem.message.startswith("dependency cycle SEED -> EMCS -> SEED")
    assert problem.path == ("services", 1, "dependencies", 0)
    assert problem.location is not None
    assert problem.location.line == line_of(texts[PLAN], "dependencies: [SEED]")


def test_self_dependency_is_a_cycle() -> None:
    loaded, _ = load_edited(PLAN, "dependencies: [TARIC]", "dependencies: [EOS]")
    assert [p.message.split(";")[0] for p in loaded.errors] == ["dependency cycle EOS -> EOS"]


def test_cascade_loop_points_at_the_earlier_node() -> None:
    loaded, text = load_edited(
        TREES,
        "              - role: network-lead",
        "              - role: network-lead\n                children:\n"
        "                  - role: iscp-director",
    )
    [problem] = loaded.errors
    assert problem.path == ("calltrees", 0, "nodes", 0, "children", 0, "children", 1, "children", 0, "role")
    assert problem.message == (
        f"role 'iscp-director' already appears above this node in the tree; notifying it again would loop "
        f"the cascade (see {TREES}:{line_of(text, 'role: iscp-director')}:9)"
    )


def test_role_nobody_holds_cannot_be_used_by_a_tree() -> None:
    loaded, _ = load_edited(
        PLAN,
        "{id: network-lead, name: LAN/WAN recovery team lead, primary: cjansen}",
        "{id: network-lead, name: LAN/WAN recovery team lead}",
    )
    assert [(p.path[-1], p.message) for p in loaded.errors] == [
        (
            "role",
            "role 'network-lead' has nobody in it (no primary, no alternates), so it can never be reached",
        )
    ]


def test_alias_collision_and_alias_reference_are_warnings() -> None:
    texts = {PLAN: valid_text(PLAN), TREES: valid_text(TREES)}
    texts[PLAN] = edited(texts[PLAN], "aliases: [SPEED]", "aliases: [SPEED, taric]")
    texts[TREES] = edited(texts[TREES], "services: [SEED]", "services: [SEED, SPEED]")
    loaded = load_texts(texts)
    assert loaded.ok
    assert sorted(p.message.split(" (see")[0] for p in loaded.warnings) == [
        "'SPEED' is an alias of service 'SPEED-ECN'; refer to a service by its id",
        "alias 'taric' is also the id, name or an alias of service 'TARIC', "
        "so an alert naming it is ambiguous",
    ]


def test_pure_checker_paths_are_relative_to_the_models() -> None:
    loaded = load_texts({PLAN: valid_text(PLAN), TREES: valid_text(TREES)})
    assert loaded.plan is not None and loaded.trees is not None
    role = loaded.plan.roles[2].model_copy(update={"primary": "nobody"})
    plan = loaded.plan.model_copy(update={"roles": (*loaded.plan.roles[:2], role, *loaded.plan.roles[3:])})
    issues = check_references(plan, loaded.trees)
    assert [(i.source, i.path, i.message) for i in issues] == [
        ("plan", ("roles", 2, "primary"), "unknown person 'nobody'")
    ]
    assert check_references(plan, None, {"people": ["nobody"]}) == []
    assert check_references(None, loaded.trees) == []


def test_close_match() -> None:
    assert close_match("net-lead", ["network-lead", "app-lead"]) == "network-lead"
    assert close_match("xyz", ["network-lead"]) is None
    assert close_match("seed", ["SEED"]) == "SEED"
