"""Rules that need the whole plan and every call tree at once.

Field validation (`plan.py`, `calltree.py`) sees one object at a time; it cannot tell that a call
tree names a role nobody defined, that SEED depends on EMCS which depends on SEED, or that a
cascade would notify the same role twice. Those are found here, as `Issue`s with a path into the
`Plan` or `TreeSet` model; the loader turns the path into `file:line:column`. Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from notifier.domain.calltree import CallTree, Invoke, Node, TreeSet
from notifier.domain.plan import Plan

Source = Literal["plan", "trees"]
ModelPath = tuple[str | int, ...]

_NOUNS = {
    "people": "person",
    "roles": "role",
    "teams": "team",
    "services": "service",
    "vendors": "vendor",
    "sites": "site",
    "strategies": "recovery strategy",
    "calltrees": "call tree",
    "policies": "escalation policy",
    "routes": "route",
}
_TARGET_COLLECTION = {"role": "roles", "team": "teams", "person": "people"}


@dataclass(frozen=True)
class Issue:
    """A cross-reference finding. `related` points at the other half (a first definition)."""

    source: Source
    path: ModelPath
    message: str
    related: ModelPath | None = None
    related_source: Source | None = None
    severity: Literal["error", "warning"] = "error"


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def check_references(
    plan: Plan | None,
    trees: TreeSet | None,
    assume_known: Mapping[str, Collection[str]] | None = None,
) -> list[Issue]:
    """Every reference, duplicate and cycle problem in `plan` and `trees`.

    Either side may be None (only the other is checked, and references into the missing side are
    not judged). `assume_known` names ids, per collection ("people", "roles", "strategies"...),
    that exist in the files but failed field validation: references to them are not reported
    again as unknown, because the coordinator already has an error for that object.
    """
    checker = _Checker(plan, trees, assume_known or {})
    if plan is not None:
        checker.check_plan(plan)
    if trees is not None:
        checker.check_trees(trees)
    return checker.issues


def close_match(value: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a mistyped id, if one is close enough to be a likely typo."""
    pool = list(candidates)
    found = difflib.get_close_matches(value, pool, n=1, cutoff=0.6)
    if not found:
        lowered = {c.casefold(): c for c in pool}
        exact = lowered.get(value.casefold())
        return exact
    return found[0]


class _Checker:
    def __init__(
        self, plan: Plan | None, trees: TreeSet | None, assume: Mapping[str, Collection[str]]
    ) -> None:
        self.plan = plan
        self.issues: list[Issue] = []
        self.known: dict[str, set[str]] = {name: set(assume.get(name, ())) for name in _NOUNS}
        self.defined: dict[str, list[str]] = {name: [] for name in _NOUNS}
        if plan is not None:
            for name in ("people", "roles", "teams", "services", "vendors", "sites"):
                self.defined[name] = [item.id for item in getattr(plan, name)]
            self.defined["strategies"] = list(plan.organisation.strategies)
        if trees is not None:
            for name in ("calltrees", "policies", "routes"):
                self.defined[name] = [item.id for item in getattr(trees, name)]
        for name, ids in self.defined.items():
            self.known[name].update(ids)
        self.alias_of: dict[str, str] = {}
        if plan is not None:
            for service in plan.services:
                for alias in service.aliases:
                    self.alias_of.setdefault(alias, service.id)
        self.judges = {
            name: plan is not None
            for name in ("people", "roles", "teams", "services", "vendors", "sites", "strategies")
        }
        self.judges.update({name: trees is not None for name in ("calltrees", "policies", "routes")})

    def add(
        self,
        source: Source,
        path: ModelPath,
        message: str,
        *,
        related: ModelPath | None = None,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        self.issues.append(Issue(source, path, message, related, source if related else None, severity))

    def ref(self, source: Source, path: ModelPath, collection: str, value: str | None) -> bool:
        """Report `value` if it is not an id of `collection`; True when it is known (or not judged)."""
        if value is None or not self.judges[collection] or value in self.known[collection]:
            return True
        noun = _NOUNS[collection]
        if collection == "services" and value in self.alias_of:
            self.add(
                source,
                path,
                f"'{value}' is an alias of service '{self.alias_of[value]}'; refer to a service by its id",
                severity="warning",
            )
            return True
        message = f"unknown {noun} '{value}'"
        hint = close_match(value, self.defined[collection])
        if hint is not None:
            message += f"; did you mean '{hint}'?"
        elif not self.defined[collection]:
            message += f" (no {noun} is defined)"
        self.add(source, path, message)
        return False

    def refs(self, source: Source, path: ModelPath, collection: str, values: Sequence[str]) -> None:
        for index, value in enumerate(values):
            self.ref(source, (*path, index), collection, value)

    def duplicates(self, source: Source, section: str, items: Sequence[_HasId]) -> None:
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            if item.id in first:
                self.add(
                    source,
                    (section, index, "id"),
                    f"duplicate {_NOUNS[section]} id '{item.id}'; ids must be unique",
                    related=(section, first[item.id], "id"),
                )
            else:
                first[item.id] = index

    # -- the plan ---------------------------------------------------------------------------

    def check_plan(self, plan: Plan) -> None:
        for section in ("people", "roles", "teams", "services", "vendors", "sites"):
            self.duplicates("plan", section, getattr(plan, section))
        org = plan.organisation
        self.ref("plan", ("organisation", "coordinator_role"), "roles", org.coordinator_role)
        self.ref("plan", ("organisation", "plan_owner_role"), "roles", org.plan_owner_role)
        self.refs("plan", ("organisation", "report_recipients"), "people", org.report_recipients)
        invocation = getattr(org, "invocation", None)
        if invocation is not None and self.ref(
            "plan", ("organisation", "invocation", "authority_role"), "roles", invocation.authority_role
        ):
            self.unheld(("organisation", "invocation", "authority_role"), invocation.authority_role, "error",
                        source="plan")
        self.check_governance(plan)
        for i, site in enumerate(plan.sites):
            self.ref("plan", ("sites", i, "vendor"), "vendors", site.vendor)
            self.refs("plan", ("sites", i, "contacts"), "people", site.contacts)
            self.refs("plan", ("sites", i, "authorised_roles"), "roles", site.authorised_roles)
            self.refs("plan", ("sites", i, "backs_up"), "sites", site.backs_up)
        for i, person in enumerate(plan.people):
            self.ref("plan", ("people", i, "site"), "sites", person.site)
        for i, role in enumerate(plan.roles):
            self.ref("plan", ("roles", i, "primary"), "people", role.primary)
            self.refs("plan", ("roles", i, "alternates"), "people", role.alternates)
            seen = {role.primary} if role.primary else set()
            for k, alternate in enumerate(role.alternates):
                if alternate in seen:
                    self.add(
                        "plan",
                        ("roles", i, "alternates", k),
                        f"person '{alternate}' is listed twice in role '{role.id}'",
                    )
                seen.add(alternate)
        for i, team in enumerate(plan.teams):
            self.ref("plan", ("teams", i, "lead"), "roles", team.lead)
            self.refs("plan", ("teams", i, "members"), "roles", team.members)
        self.check_services(plan)
        for i, vendor in enumerate(plan.vendors):
            self.refs("plan", ("vendors", i, "services"), "services", vendor.services)
            self.refs("plan", ("vendors", i, "contacts"), "people", vendor.contacts)

    def check_governance(self, plan: Plan) -> None:
        governance = plan.organisation.governance
        base: ModelPath = ("organisation", "governance")
        if governance.approval is not None:
            self.ref("plan", (*base, "approval", "role"), "roles", governance.approval.role)
            self.ref("plan", (*base, "approval", "person"), "people", governance.approval.person)
        for i, entry in enumerate(governance.distribution):
            known = entry.holder in self.known["people"] or entry.holder in self.known["roles"]
            if self.judges["people"] and not known:
                self.add("plan", (*base, "distribution", i, "holder"),
                         f"unknown person or role '{entry.holder}' as holder of a copy of the plan")

    def check_bia(self, plan: Plan, i: int) -> None:
        service = plan.services[i]
        categories = plan.organisation.impact_categories
        for k, process in enumerate(service.processes):
            for name, value in process.impacts.items():
                path: ModelPath = ("services", i, "processes", k, "impacts", name)
                category = categories.get(name)
                if category is None:
                    defined = ", ".join(sorted(categories)) or "none"
                    self.add("plan", path, f"unknown impact category '{name}'; the organisation defines "
                             f"{defined} (organisation.impact_categories)")
                elif category.values and value not in category.values:
                    allowed = ", ".join(category.values)
                    self.add("plan", path, f"impact '{value}' is not a value of category '{name}' "
                             f"({allowed})")
        for k, resource in enumerate(service.resources):
            self.ref("plan", ("services", i, "resources", k, "site"), "sites", resource.site)

    def check_services(self, plan: Plan) -> None:
        org = plan.organisation
        for i, service in enumerate(plan.services):
            self.check_bia(plan, i)
            self.ref("plan", ("services", i, "owner_role"), "roles", service.owner_role)
            self.ref("plan", ("services", i, "recovery_team"), "teams", service.recovery_team)
            self.refs("plan", ("services", i, "dependencies"), "services", service.dependencies)
            self.ref("plan", ("services", i, "strategy"), "strategies", service.strategy)
            tier_kinds = (("rto_tier", org.rto_tiers, "RTO"), ("rpo_tier", org.rpo_tiers, "RPO"))
            for field, tiers, label in tier_kinds:
                tier = getattr(service, field)
                if tier is not None and tiers and tier not in tiers:
                    defined = ", ".join(str(t) for t in sorted(tiers))
                    self.add(
                        "plan",
                        ("services", i, field),
                        f"unknown {label} tier {tier}; the organisation defines tiers {defined}",
                    )
        self.check_aliases(plan)
        self.check_dependency_cycles(plan)

    def check_aliases(self, plan: Plan) -> None:
        owners: dict[str, set[int]] = {}
        for i, service in enumerate(plan.services):
            for token in (service.id, service.name, *service.aliases):
                owners.setdefault(token.casefold(), set()).add(i)
        for i, service in enumerate(plan.services):
            for k, alias in enumerate(service.aliases):
                others = sorted(owners.get(alias.casefold(), set()) - {i})
                if others:
                    other = plan.services[others[0]]
                    self.add(
                        "plan",
                        ("services", i, "aliases", k),
                        f"alias '{alias}' is also the id, name or an alias of service '{other.id}', "
                        "so an alert naming it is ambiguous",
                        related=("services", others[0], "id"),
                        severity="warning",
                    )

    def check_dependency_cycles(self, plan: Plan) -> None:
        index: dict[str, int] = {}
        for i, service in enumerate(plan.services):
            index.setdefault(service.id, i)
        state: dict[str, int] = {}  # 1 on the current path, 2 finished
        reported: set[tuple[str, ...]] = set()
        for start in index:
            if state.get(start):
                continue
            path: list[str] = [start]
            state[start] = 1
            stack = [iter(enumerate(plan.services[index[start]].dependencies))]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                k, dep = step
                if dep not in index:
                    continue
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    self.report_cycle(cycle, ("services", index[path[-1]], "dependencies", k), reported)
                elif not state.get(dep):
                    state[dep] = 1
                    path.append(dep)
                    stack.append(iter(enumerate(plan.services[index[dep]].dependencies)))

    def report_cycle(self, cycle: list[str], at: ModelPath, reported: set[tuple[str, ...]]) -> None:
        ring = cycle[:-1]
        pivot = ring.index(min(ring))
        canonical = tuple(ring[pivot:] + ring[:pivot])
        if canonical in reported:
            return
        reported.add(canonical)
        shown = " -> ".join(cycle)
        self.add("plan", at, f"dependency cycle {shown}; a service cannot depend on itself, even indirectly")

    # -- call trees, policies, routes ---------------------------------------------------------

    def check_trees(self, trees: TreeSet) -> None:
        for section in ("calltrees", "policies", "routes"):
            self.duplicates("trees", section, getattr(trees, section))
        for t, tree in enumerate(trees.calltrees):
            self.check_tree(t, tree)
        for r, route in enumerate(trees.routes):
            self.ref("trees", ("routes", r, "calltree"), "calltrees", route.calltree)
            self.ref("trees", ("routes", r, "policy"), "policies", route.policy)
            asks = route.invoke is Invoke.ASK
            if asks and self.plan is not None and self.plan.organisation.invocation is None:
                self.add("trees", ("routes", r, "invoke"), "'invoke: ask' needs the plan's invocation "
                         "authority (organisation.invocation.authority_role) to ask")
            self.refs("trees", ("routes", r, "match", "services"), "services", route.match.services)

    def check_tree(self, t: int, tree: CallTree) -> None:
        base: ModelPath = ("calltrees", t)
        self.ref("trees", (*base, "policy"), "policies", tree.policy)
        if self.ref("trees", (*base, "coordinator_role"), "roles", tree.coordinator_role):
            self.unheld((*base, "coordinator_role"), tree.coordinator_role, "warning")
        keys: dict[str, ModelPath] = {}
        for n, node in enumerate(tree.nodes):
            self.check_node(node, (*base, "nodes", n), {}, keys)

    def unheld(self, path: ModelPath, role_id: str | None, severity: Literal["error", "warning"],
               source: Source = "trees") -> None:
        role = self.plan.role(role_id) if self.plan is not None and role_id else None
        if role is not None and not role.holders:
            self.add(
                source,
                path,
                f"role '{role.id}' has nobody in it (no primary, no alternates), so it can never be reached",
                severity=severity,
            )

    def check_node(
        self, node: Node, path: ModelPath, above: dict[tuple[str, str], ModelPath], keys: dict[str, ModelPath]
    ) -> None:
        kind, target = node.target
        field_path = (*path, kind)
        if self.ref("trees", field_path, _TARGET_COLLECTION[kind], target) and kind == "role":
            self.unheld(field_path, target, "error")
        self.ref("trees", (*path, "policy"), "policies", node.policy)
        if (kind, target) in above:
            self.add(
                "trees",
                field_path,
                f"{kind} '{target}' already appears above this node in the tree; "
                "notifying it again would loop the cascade",
                related=above[(kind, target)],
            )
        elif node.key in keys:
            where = (*path, "id") if node.id else field_path
            self.add(
                "trees",
                where,
                f"node '{node.key}' appears twice in this tree; give one of them a distinct 'id'",
                related=keys[node.key],
            )
        else:
            keys[node.key] = path
        inner = {**above, (kind, target): path}
        for c, child in enumerate(node.children):
            self.check_node(child, (*path, "children", c), inner, keys)
