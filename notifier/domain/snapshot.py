"""The frozen picture of a call tree that one activation runs against.

An activation must behave the same from its first message to its last even if someone edits the
plan or the call-tree files meanwhile (Grafana OnCall's "escalation snapshot"). So at start we
resolve everything the planner will ever look up - who holds each role, their contact methods and
time zones, the policy of each node, the coordinator - into one JSON-serialisable model, and the
planner reads nothing else.

Compilation also flattens the tree: team nodes become a node for the team's lead role whose
children are one node per member role (before the node's own children), and a drill leaves out
external people (vendors, contractors) unless the tree says otherwise.
"""

from __future__ import annotations

from typing import Literal

from notifier.domain.calltree import (
    ActivationKind,
    CallTree,
    Completion,
    CompletionRule,
    EscalationPolicy,
    Mode,
    Node,
    Templates,
    TreeSet,
)
from notifier.domain.durations import Duration
from notifier.domain.plan import BusinessHours, ContactMethod, Model, Person, Plan


class SnapshotError(ValueError):
    """The tree cannot be compiled against the plan; the message names the tree and the node."""


class PersonSnap(Model):
    id: str
    name: str
    timezone: str
    language: str
    contacts: tuple[ContactMethod, ...]
    external: bool


class NodeSnap(Model):
    key: str
    label: str
    kind: Literal["role", "person"]
    ref: str
    required: bool
    policy: EscalationPolicy
    holders: tuple[str, ...]
    parent: str | None
    children: tuple[str, ...]
    level: int
    left_out: bool = False  # every holder was left out of this drill as external


class Invokes(Model):
    """What an invocation question starts when the authority answers 1 (see `compile_invocation`)."""

    tree_id: str
    tree_name: str
    kind: ActivationKind
    policy: str | None = None
    authority: str  # the authority role's name, e.g. "ISCP Director"
    criteria: tuple[str, ...] = ()


AUTHORITY_NODE = "authority"


class Snapshot(Model):
    tree_id: str
    tree_name: str
    kind: ActivationKind
    mode: Mode
    completion: Completion
    time_limit: Duration
    templates: Templates
    stand_down: bool = True  # people still being tried hear when a first/quorum rule is met
    business_hours: BusinessHours
    org_timezone: str
    coordinator: tuple[str, ...]
    people: dict[str, PersonSnap]
    nodes: dict[str, NodeSnap]
    roots: tuple[str, ...]
    #: set for an invocation question: the tree a "1" starts (the planner asks instead of notifying)
    invokes: Invokes | None = None

    @property
    def is_drill(self) -> bool:
        return self.kind is not ActivationKind.INCIDENT


class _Compiler:
    """Walks one call tree depth-first and collects nodes and the people they need."""

    def __init__(self, plan: Plan, trees: TreeSet, tree: CallTree, kind: ActivationKind, default_policy: str):
        self.plan = plan
        self.trees = trees
        self.tree = tree
        self.skip_external = kind is ActivationKind.DRILL and not tree.include_external_in_drills
        self.default_policy = default_policy
        self.nodes: dict[str, NodeSnap] = {}
        self.people: dict[str, PersonSnap] = {}

    def fail(self, where: str, problem: str) -> SnapshotError:
        return SnapshotError(f"call tree {self.tree.id!r}: node {where!r}: {problem}")

    def person(self, person_id: str, where: str) -> Person:
        person = self.plan.person(person_id)
        if person is None:
            raise self.fail(where, f"unknown person {person_id!r}")
        return person

    def keep(self, person_ids: tuple[str, ...], where: str) -> tuple[tuple[str, ...], bool]:
        """The holders that take part, and whether someone was left out as external."""
        kept: list[str] = []
        left_out = False
        for person_id in person_ids:
            person = self.person(person_id, where)
            if self.skip_external and person.affiliation:
                left_out = True
                continue
            if person_id not in kept:
                kept.append(person_id)
                self.people[person_id] = self.snap_person(person)
        return tuple(kept), left_out

    def snap_person(self, person: Person) -> PersonSnap:
        return PersonSnap(
            id=person.id,
            name=person.name,
            timezone=person.timezone or self.plan.organisation.timezone,
            language=person.language,
            contacts=person.contacts,
            external=person.affiliation != "",
        )

    def policy(self, policy_id: str, where: str) -> EscalationPolicy:
        policy = self.trees.policy(policy_id)
        if policy is None:
            raise self.fail(where, f"unknown escalation policy {policy_id!r}")
        return policy

    def unique_key(self, wanted: str, generated: bool) -> str:
        if wanted not in self.nodes:
            return wanted
        if not generated:
            raise self.fail(wanted, "two nodes share this id; give one of them an `id`")
        number = 2
        while f"{wanted}~{number}" in self.nodes:
            number += 1
        return f"{wanted}~{number}"

    def role_node(
        self, key: str, role_id: str, label: str, node: Node, parent: str | None, level: int
    ) -> NodeSnap:
        role = self.plan.role(role_id)
        if role is None:
            raise self.fail(key, f"unknown role {role_id!r}")
        holders, left_out = self.keep(role.holders, key)
        return NodeSnap(
            key=key,
            label=label or role.name,
            kind="role",
            ref=role_id,
            required=node.required,
            policy=self.policy(node.policy or self.default_policy, key),
            holders=holders,
            parent=parent,
            children=(),
            level=level,
            left_out=left_out and not holders,
        )

    def add(self, node: Node, parent: str | None, level: int) -> str:
        """Add `node` and its subtree; return its key."""
        kind, ref = node.target
        key = self.unique_key(node.key, generated=False)
        member_keys: list[str] = []
        if kind == "team":
            team = self.plan.team(ref)
            if team is None:
                raise self.fail(key, f"unknown team {ref!r}")
            snap = self.role_node(key, team.lead, node.label or team.name, node, parent, level)
            self.nodes[key] = snap
            for member in team.members:
                member_key = self.unique_key(f"{key}.{member}", generated=True)
                member_node = Node(role=member, required=node.required, policy=node.policy)
                self.nodes[member_key] = self.role_node(member_key, member, "", member_node, key, level + 1)
                member_keys.append(member_key)
        elif kind == "role":
            self.nodes[key] = self.role_node(key, ref, node.label, node, parent, level)
        else:
            holders, left_out = self.keep((ref,), key)
            self.nodes[key] = NodeSnap(
                key=key,
                label=node.label or self.person(ref, key).name,
                kind="person",
                ref=ref,
                required=node.required,
                policy=self.policy(node.policy or self.default_policy, key),
                holders=holders,
                parent=parent,
                children=(),
                level=level,
                left_out=left_out,
            )
        child_keys = member_keys + [self.add(child, key, level + 1) for child in node.children]
        if child_keys:
            self.nodes[key] = self.nodes[key].model_copy(update={"children": tuple(child_keys)})
        return key


def compile_snapshot(
    plan: Plan,
    trees: TreeSet,
    tree_id: str,
    kind: ActivationKind,
    policy_override: str | None = None,
) -> Snapshot:
    """Freeze `tree_id` against `plan` for one activation.

    `policy_override` (an alert route's policy) replaces the tree's default policy; a node that
    names its own policy keeps it, because the tree author chose it for that node on purpose
    (e.g. an email-only policy for a vendor).
    """
    tree = trees.tree(tree_id)
    if tree is None:
        raise SnapshotError(f"unknown call tree {tree_id!r}")
    compiler = _Compiler(plan, trees, tree, kind, policy_override or tree.policy)
    compiler.policy(policy_override or tree.policy, "(tree default)")
    roots = tuple(compiler.add(node, None, 0) for node in tree.nodes)
    coordinator: tuple[str, ...] = ()
    coordinator_role = tree.coordinator_role or plan.organisation.coordinator_role
    if coordinator_role:
        role = plan.role(coordinator_role)
        if role is None:
            raise compiler.fail("(coordinator)", f"unknown coordinator role {coordinator_role!r}")
        coordinator, _ = compiler.keep(role.holders, "(coordinator)")
    return Snapshot(
        tree_id=tree.id,
        tree_name=tree.name,
        kind=kind,
        mode=tree.mode,
        completion=tree.completion,
        time_limit=tree.time_limit,
        templates=tree.templates,
        stand_down=tree.stand_down,
        business_hours=plan.organisation.business_hours,
        org_timezone=plan.organisation.timezone,
        coordinator=coordinator,
        people=compiler.people,
        nodes=compiler.nodes,
        roots=roots,
    )


def compile_invocation(
    plan: Plan,
    trees: TreeSet,
    tree_id: str,
    kind: ActivationKind,
    policy_override: str | None = None,
) -> Snapshot:
    """The question "invoke the plan?" as a small activation of its own (an alert route with
    `invoke: ask`): one node, the organisation's invocation authority role, whose holders are its
    primary and ordered successors and then the coordinator role's holders, worked through the
    route's policy like any node (silence moves to the next one after the policy's wait). A "1"
    completes it and the engine starts `tree_id`; a "2" records the decision to stand by."""
    target = compile_snapshot(plan, trees, tree_id, kind, policy_override)  # fails now, not on "1"
    invocation = plan.organisation.invocation
    if invocation is None:
        raise SnapshotError("the plan names no invocation authority (organisation.invocation)")
    role = plan.role(invocation.authority_role)
    if role is None:
        raise SnapshotError(f"unknown invocation authority role {invocation.authority_role!r}")
    tree = trees.tree(tree_id)
    assert tree is not None  # compiled above
    question = tree.model_copy(
        update={
            "id": f"{tree.id}.invocation",
            "name": f"Invocation of {tree.name}",
            "mode": Mode.CASCADE,
            "completion": Completion(rule=CompletionRule.FIRST),
            "stand_down": False,
            "nodes": (Node(id=AUTHORITY_NODE, role=role.id, label=f"{role.name} (invocation authority)"),),
        }
    )
    snap = compile_snapshot(
        plan, TreeSet(calltrees=(question,), policies=trees.policies), question.id, kind, policy_override
    )
    node = snap.nodes[AUTHORITY_NODE]
    holders = node.holders + tuple(p for p in snap.coordinator if p not in node.holders)
    return snap.model_copy(
        update={
            "nodes": {AUTHORITY_NODE: node.model_copy(update={"holders": holders})},
            "invokes": Invokes(
                tree_id=target.tree_id,
                tree_name=target.tree_name,
                kind=kind,
                policy=policy_override,
                authority=role.name,
                criteria=invocation.criteria,
            ),
        }
    )

