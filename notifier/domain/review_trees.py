"""Review rules on the call trees, their escalation policies and the routes that start them.

The time rules use `worstcase.py`: each tree is judged under its own default policy and under
every policy a route starts it with, against the tree's prescribed time limit and against the
RTO of the services whose alerts the routes send to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from notifier.domain.calltree import ActivationKind, CallTree, EscalationPolicy, Node, TreeSet
from notifier.domain.durations import format_duration
from notifier.domain.findings import (
    NIST_ALTERNATE,
    NIST_TIME_LIMIT,
    FieldPath,
    Finding,
    Review,
    Severity,
    hours,
)
from notifier.domain.plan import ChannelKind, Plan, Service
from notifier.domain.snapshot import SnapshotError, compile_snapshot
from notifier.domain.worstcase import TreeWorst, worst_case


@dataclass(frozen=True)
class TreeTiming:
    """One (tree, policy) pair as it can be started, with its worst case and what it must meet."""

    tree_index: int
    tree: CallTree
    policy: str
    route: str | None  # the route that starts the tree with this policy; None for the tree's own
    route_index: int | None
    worst: TreeWorst
    services: tuple[Service, ...]  # services whose alerts this route sends to the tree


def tree_timings(
    plan: Plan,
    trees: TreeSet,
    routed: dict[str, tuple[Service, ...]],
    rates: Mapping[ChannelKind, float] | None = None,
) -> list[TreeTiming]:
    """Every way a tree can be started, with its worst-case time (shared with `notifier validate`)."""
    timings: list[TreeTiming] = []
    for index, tree in enumerate(trees.calltrees):
        starts: list[tuple[str, str | None, int | None, ActivationKind]] = [
            (tree.policy, None, None, ActivationKind.INCIDENT)
        ]
        for r_index, route in enumerate(trees.routes):
            if route.calltree == tree.id:
                starts.append((route.policy or tree.policy, route.id, r_index, route.kind))
        for policy, route_id, route_index, kind in starts:
            try:
                snapshot = compile_snapshot(plan, trees, tree.id, kind, policy)
            except SnapshotError:
                continue  # `notifier validate` reports the broken reference
            services = routed.get(route_id, ()) if route_id else ()
            timings.append(
                TreeTiming(index, tree, policy, route_id, route_index, worst_case(snapshot, rates), services)
            )
    return timings


def _minutes(value: timedelta) -> str:
    return format_duration(timedelta(seconds=round(value.total_seconds())))


def check_tree_times(r: Review) -> Iterator[Finding]:
    """A tree whose worst case exceeds its prescribed time limit fails its drills by design (error);
    a limit or worst case longer than the RTO of a service routed to it leaves no time to recover
    (error)."""
    assert r.trees is not None
    reported: set[tuple[str, str, str]] = set()
    for t in tree_timings(r.plan, r.trees, r.services_by_route, r.rates):
        limit = t.tree.time_limit
        tree_path: FieldPath = ("calltrees", t.tree_index, "time_limit")
        how = f"under policy {t.policy}" + (f" (route {t.route})" if t.route else "")
        branch = " -> ".join(t.worst.branch)
        if t.worst.total > limit and (t.tree.id, t.policy, "limit") not in reported:
            reported.add((t.tree.id, t.policy, "limit"))
            message = (
                f"call tree {t.tree.id} can take {_minutes(t.worst.total)} at worst {how}, longer than its "
                f"time limit of {_minutes(limit)} (slowest branch: {branch}): shorten the waits or rounds, "
                f"flatten the tree, or raise the limit ({NIST_TIME_LIMIT})"
            )
            yield Finding("tree-worst-case-exceeds-limit", "error", "trees", tree_path, t.tree.id, message)
        rtos = [(r.rto_hours(s), s) for s in t.services]
        known = [(h, s) for h, s in rtos if h is not None]
        if not known or t.route_index is None:
            continue
        rto, service = min(known, key=lambda pair: pair[0])
        rto_delta = timedelta(hours=rto)
        route_path: FieldPath = ("routes", t.route_index)
        if limit > rto_delta and (t.tree.id, "", "rto") not in reported:
            reported.add((t.tree.id, "", "rto"))
            message = (
                f"call tree {t.tree.id} has a time limit of {_minutes(limit)} but route {t.route} sends it "
                f"alerts "
                f"for {service.id}, whose RTO is {hours(rto)}: the limit must leave time to recover"
            )
            yield Finding("tree-limit-exceeds-rto", "error", "trees", tree_path, t.tree.id, message)
        if t.worst.total > rto_delta and (t.tree.id, t.policy, "rto") not in reported:
            reported.add((t.tree.id, t.policy, "rto"))
            message = (
                f"call tree {t.tree.id} can take {_minutes(t.worst.total)} at worst {how}, longer than the "
                f"{hours(rto)} RTO of {service.id}, which the route sends to it"
            )
            yield Finding("tree-worst-case-exceeds-rto", "error", "trees", route_path, t.tree.id, message)


def _tier1_policies(r: Review) -> set[str]:
    """Policies a tier-1 service's alert can start a tree with."""
    assert r.trees is not None
    chosen: set[str] = set()
    for route in r.trees.routes:
        services = r.services_by_route.get(route.id, ())
        if any(s.rto_tier == 1 for s in services) or 1 in route.match.rto_tiers:
            tree = r.trees.tree(route.calltree)
            policy = route.policy or (tree.policy if tree else None)
            if policy:
                chosen.add(policy)
    return chosen


def _policy_finding(
    code: str, policy: EscalationPolicy, index: int, field: str, text: str, tier1: set[str]
) -> Finding:
    severity: Severity = "error" if policy.id in tier1 else "warning"
    suffix = " It is used for RTO tier 1 alerts." if policy.id in tier1 else ""
    return Finding(code, severity, "trees", ("policies", index, field), policy.id, text + suffix)


def check_policies(r: Review) -> Iterator[Finding]:
    """An e-mail-only policy cannot ensure receipt (NIST: "no way to ensure receipt and
    acknowledgement"); one that never tries alternates stops at the first unreachable person.
    Both are errors on a policy tier-1 alerts use, warnings otherwise."""
    assert r.trees is not None
    tier1 = _tier1_policies(r)
    for index, policy in enumerate(r.trees.policies):
        if all(step.kind is ChannelKind.EMAIL for step in policy.methods):
            text = f"policy {policy.id} only sends e-mail, which cannot ensure receipt: add SMS or a call."
            yield _policy_finding("policy-email-only", policy, index, "methods", text, tier1)
        if not policy.use_alternates:
            text = f"policy {policy.id} has use_alternates: false: an unreachable primary is never replaced."
            yield _policy_finding("policy-no-alternates", policy, index, "use_alternates", text, tier1)


def check_tree_coordinators(r: Review) -> Iterator[Finding]:
    """The coordinator hears about every unreachable branch; nobody may stand behind one person."""
    assert r.trees is not None
    for index, tree in enumerate(r.trees.calltrees):
        role_id = tree.coordinator_role or r.plan.organisation.coordinator_role
        role = r.plan.role(role_id) if role_id else None
        if role is None or role.alternates:
            continue
        path: FieldPath = ("calltrees", index, "coordinator_role")
        source = "trees"
        if not tree.coordinator_role:
            path, source = ("organisation", "coordinator_role"), "plan"
        message = (
            f"call tree {tree.id} reports to coordinator role {role.id}, which has no alternate: "
            f"designate one ({NIST_ALTERNATE})"
        )
        yield Finding("tree-coordinator-no-alternate", "warning", source, path, tree.id, message)  # type: ignore[arg-type]


def walk(nodes: tuple[Node, ...], path: FieldPath, depth: int = 0) -> Iterator[tuple[Node, FieldPath, int]]:
    for k, node in enumerate(nodes):
        here = (*path, k)
        yield node, here, depth
        yield from walk(node.children, (*here, "children"), depth + 1)


def node_roles(plan: Plan, node: Node) -> list[str]:
    """The roles a node reaches: its role, or a team's lead and member roles."""
    kind, target = node.target
    if kind == "role":
        return [target]
    if kind == "team" and (team := plan.team(target)) is not None:
        return [team.lead, *team.members]
    return []


def roles_in_trees(plan: Plan, trees: TreeSet) -> set[str]:
    """Every role a tree can reach: role nodes, team nodes (lead and members), coordinators."""
    used: set[str] = set()
    for tree in trees.calltrees:
        if tree.coordinator_role:
            used.add(tree.coordinator_role)
        for node, _, _ in walk(tree.nodes, ()):
            used.update(node_roles(plan, node))
    if plan.organisation.coordinator_role:
        used.add(plan.organisation.coordinator_role)
    return used


def check_unused_roles(r: Review) -> Iterator[Finding]:
    """A role no call tree reaches is never notified, however well it is staffed."""
    assert r.trees is not None
    used = roles_in_trees(r.plan, r.trees)
    for index, role in enumerate(r.plan.roles):
        if role.id not in used:
            message = f"role {role.id} is in no call tree: add it to a tree or remove it"
            yield Finding("role-unused", "info", "plan", ("roles", index), role.id, message)


def check_alternates_in_same_tree(r: Review) -> Iterator[Finding]:
    """An alternate who is also the primary of another node of the same tree is already busy when
    called to stand in: in the outage that took out the primary, the branch is short of a person.
    A warning for leader roles (the branch under them waits), info for the others."""
    assert r.trees is not None
    role_index = {role.id: i for i, role in enumerate(r.plan.roles)}
    reported: set[tuple[str, str]] = set()
    for tree in r.trees.calltrees:
        roles = [rid for node, _, _ in walk(tree.nodes, ()) for rid in node_roles(r.plan, node)]
        primaries = {role.primary: role.id for rid in roles if (role := r.plan.role(rid)) and role.primary}
        for rid in roles:
            role = r.plan.role(rid)
            if role is None:
                continue
            for k, alternate in enumerate(role.alternates):
                other = primaries.get(alternate)
                if other is None or other == rid or (rid, alternate) in reported:
                    continue
                reported.add((rid, alternate))
                message = (
                    f"role {rid}: alternate {alternate} is also the primary of {other} in call tree "
                    f"{tree.id}, "
                    "so standing in leaves that node short: choose an alternate outside the tree"
                )
                severity: Severity = "warning" if rid in r.lead_roles else "info"
                yield Finding(
                    "alternate-in-same-tree",
                    severity,
                    "plan",
                    ("roles", role_index[rid], "alternates", k),
                    rid,
                    message,
                )


_ASSESSMENT = re.compile(r"\b(outage|damage)\s+assessment\b", re.IGNORECASE)


def check_outage_assessment_first(r: Review) -> Iterator[Finding]:
    """NIST: "the Outage Assessment Team is the first team notified": in a cascade it should be
    reached right after the coordinator (or at the first level when the tree has no coordinator)."""
    assert r.trees is not None
    for index, tree in enumerate(r.trees.calltrees):
        if tree.mode.value != "cascade":
            continue
        coordinator = tree.coordinator_role or r.plan.organisation.coordinator_role
        entries = list(walk(tree.nodes, ("calltrees", index, "nodes")))
        coordinator_depth = min(
            (d for n, _, d in entries if coordinator in node_roles(r.plan, n)), default=-1
        )
        for node, path, depth in entries:
            kind, target = node.target
            named = r.plan.team(target) if kind == "team" else r.plan.role(target) if kind == "role" else None
            if named is None or not _ASSESSMENT.search(named.name) or depth <= coordinator_depth + 1:
                continue
            message = (
                f"call tree {tree.id} reaches {named.name} at level {depth + 1}: NIST notifies the outage "
                "assessment team first; move it right under the coordinator"
            )
            yield Finding("tree-outage-assessment-late", "warning", "trees", path, tree.id, message)
