"""Plan and call-tree files -> validated `Plan` and `TreeSet`, with every problem located.

Several files are merged (the plan may be split into people, services, vendors...; each call tree
may live in its own file). Each top-level item is validated on its own so that one bad person does
not hide the next one, and each merged item remembers its file and index there, so a finding on
the merged model (`people[7].site`) is reported where it was written (`config/plan-people.yaml:
41:5: people[2].site`). Cross-reference checks run even when some items failed: references to an
item that exists but is invalid are not reported a second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from notifier.domain.calltree import CallTree, EscalationPolicy, Route, TreeSet
from notifier.domain.plan import Organisation, Person, Plan, Role, Service, Site, Team, Vendor
from notifier.domain.references import Issue, check_references
from notifier.domain.template_check import check_templates
from notifier.plan.messages import describe
from notifier.plan.problems import FieldPath, Location, Problem
from notifier.plan.sources import MAX_FILE_BYTES, Source, scan, source_from_text

SourceKind = Literal["plan", "trees"]

_PLAN_LISTS: dict[str, type[BaseModel]] = {
    "people": Person,
    "roles": Role,
    "teams": Team,
    "services": Service,
    "vendors": Vendor,
    "sites": Site,
}
_TREE_LISTS: dict[str, type[BaseModel]] = {
    "calltrees": CallTree,
    "policies": EscalationPolicy,
    "routes": Route,
}
_NOUN = {
    "people": "people",
    "roles": "roles",
    "teams": "teams",
    "services": "services",
    "vendors": "vendors",
    "sites": "sites",
    "calltrees": "call trees",
    "policies": "escalation policies",
    "routes": "routes",
}


@dataclass
class Loaded:
    """The result of loading: the models (None when they could not be built) and every problem."""

    plan: Plan | None
    trees: TreeSet | None
    problems: list[Problem]
    files: list[str] = field(default_factory=list)
    _sources: dict[str, Source] = field(default_factory=dict, repr=False)
    _origins: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict, repr=False)
    _homes: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def file_path(self, source: SourceKind, path: FieldPath) -> tuple[str | None, FieldPath]:
        """Where a path of the merged model was written: (file, path inside that file)."""
        if len(path) >= 2 and isinstance(path[0], str) and isinstance(path[1], int):
            origin = self._origins.get((source, path[0], path[1]))
            if origin is not None:
                return origin[0], (path[0], origin[1], *path[2:])
        home = self._homes.get((source, str(path[0]) if path else ""))
        return home or self._homes.get((source, "")), path

    def locate(self, source: SourceKind, path: FieldPath) -> Location | None:
        """The position of `path` of the merged Plan/TreeSet, or of its nearest written ancestor."""
        file, inner = self.file_path(source, path)
        found = self._sources.get(file) if file else None
        return found.doc.locate(inner) if found else None


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(plan files, call-tree files) under `paths`; problems are only reported by `load`."""
    sources, _ = scan(paths)
    return (
        [Path(s.name) for s in sources if "plan" in s.kinds],
        [Path(s.name) for s in sources if "trees" in s.kinds],
    )


def load(paths: Sequence[Path], max_file_bytes: int = MAX_FILE_BYTES) -> Loaded:
    """Load, merge and check every plan and call-tree file under `paths`. Never raises on bad input."""
    sources, problems = scan(paths, max_file_bytes)
    return _build(sources, problems)


def load_texts(texts: Mapping[str, str]) -> Loaded:
    """Like `load`, from {file name: YAML text} (tests, `plan import -`)."""
    return _build([source_from_text(text, name) for name, text in texts.items()], [])


def load_plan_text(text: str, filename: str) -> Loaded:
    """Load one plan document given as text."""
    return load_texts({filename: text})


class _Part:
    """Merges the sections of several files of one kind and validates each item."""

    def __init__(self, kind: SourceKind, loaded: Loaded) -> None:
        self.kind = kind
        self.loaded = loaded
        self.valid: dict[str, list[BaseModel]] = {}
        self.assume: dict[str, set[str]] = {}
        self.failed = False

    def error(self, problem: Problem) -> None:
        self.loaded.problems.append(problem)
        self.failed = True

    def validate(self, model: type[BaseModel], raw: Any, source: Source, base: FieldPath) -> BaseModel | None:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors()
            for error in errors:
                loc, message = describe(error, model)
                nested = any(len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors)
                if error["type"] == "too_short" and nested:
                    continue  # pydantic counts only the valid items; the nested errors say why
                path = (*base, *loc)
                self.error(Problem(message, path, source.doc.locate(path)))
        except Exception as exc:  # a validator bug must not become a traceback for a coordinator
            self.error(
                Problem(
                    f"cannot check this entry: {type(exc).__name__}: {exc}", base, source.doc.locate(base)
                )
            )
        return None

    def merge_lists(self, sources: list[Source], sections: Mapping[str, type[BaseModel]]) -> None:
        for name in sections:
            self.valid[name] = []
            self.assume[name] = set()
        for source in sources:
            self.loaded._homes.setdefault((self.kind, ""), source.name)
            for name, model in sections.items():
                if name not in source.data or source.data[name] is None:
                    continue
                items = source.data[name]
                if not isinstance(items, list):
                    got = "a mapping" if isinstance(items, dict) else "a single value"
                    message = f"expected a list of {_NOUN[name]} (lines starting with '- '), got {got}"
                    self.error(Problem(message, (name,), source.doc.locate((name,))))
                    continue
                for index, raw in enumerate(items):
                    result = self.validate(model, raw, source, (name, index))
                    if result is None:
                        raw_id = raw.get("id") if isinstance(raw, dict) else None
                        if isinstance(raw_id, str):
                            self.assume[name].add(raw_id)
                        continue
                    merged = len(self.valid[name])
                    self.loaded._origins[(self.kind, name, merged)] = (source.name, index)
                    self.valid[name].append(result)


def _merge_organisation(part: _Part, sources: list[Source]) -> Organisation | None:
    first: Source | None = None  # located only to report a second one (positions cost a re-read)
    organisation: Organisation | None = None
    for source in sources:
        if "organisation" not in source.data:
            continue
        if first is not None:
            part.error(
                Problem(
                    f"'organisation' is already defined at {first.doc.locate(('organisation',))}; "
                    "a plan has exactly one",
                    ("organisation",),
                    source.doc.locate(("organisation",)),
                )
            )
            continue
        first = source
        part.loaded._homes[("plan", "organisation")] = source.name
        raw = source.data["organisation"]
        result = part.validate(Organisation, raw, source, ("organisation",))
        if isinstance(result, Organisation):
            organisation = result
        elif isinstance(raw, dict) and isinstance(raw.get("strategies"), dict):
            part.assume["strategies"] = {str(k) for k in raw["strategies"]}
    if first is None and sources:
        part.error(
            Problem(
                "no plan file defines 'organisation' (at least its name)", (), Location(sources[0].name, 0, 0)
            )
        )
    return organisation


def _build(sources: list[Source], problems: list[Problem]) -> Loaded:
    loaded = Loaded(plan=None, trees=None, problems=list(problems))
    for source in sources:
        loaded._sources[source.name] = source
        loaded.problems.extend(source.doc.problems)
        if source.kinds:
            loaded.files.append(source.name)
    plan_sources = [s for s in sources if "plan" in s.kinds]
    tree_sources = [s for s in sources if "trees" in s.kinds]
    if not plan_sources and not tree_sources and not loaded.errors:
        loaded.problems.append(Problem("no plan or call-tree files found", (), None))

    plan_part = _Part("plan", loaded)
    plan_part.merge_lists(plan_sources, _PLAN_LISTS)
    organisation = _merge_organisation(plan_part, plan_sources)
    check_plan: Plan | None = None
    if plan_sources:
        lists: dict[str, Any] = {name: tuple(items) for name, items in plan_part.valid.items()}
        if organisation is not None and not plan_part.failed:
            loaded.plan = Plan(organisation=organisation, **lists)
        check_plan = loaded.plan or Plan.model_construct(
            organisation=organisation or Organisation.model_construct(name=""), **lists
        )

    tree_part = _Part("trees", loaded)
    tree_part.merge_lists(tree_sources, _TREE_LISTS)
    check_trees: TreeSet | None = None
    if tree_sources:
        tree_lists: dict[str, Any] = {name: tuple(items) for name, items in tree_part.valid.items()}
        check_trees = TreeSet.model_construct(**tree_lists)
        if not tree_part.failed:
            loaded.trees = TreeSet(**tree_lists)
        if not plan_sources:
            loaded.problems.append(
                Problem(
                    "no plan file given: the roles, teams and people named by call trees were not checked",
                    (),
                    None,
                    "warning",
                )
            )

    assume = {**plan_part.assume, **tree_part.assume}
    complete = loaded.plan is not None and loaded.trees is not None
    issues = check_references(check_plan, check_trees, assume)
    issues += check_templates(loaded.plan or check_plan, loaded.trees or check_trees, complete)
    for issue in issues:
        loaded.problems.append(_issue_problem(loaded, issue))
    loaded.problems.sort(key=_position)
    return loaded


def _issue_problem(loaded: Loaded, issue: Issue) -> Problem:
    _, file_path = loaded.file_path(issue.source, issue.path)
    message = issue.message
    if issue.related is not None:
        related = loaded.locate(issue.related_source or issue.source, issue.related)
        if related is not None:
            message += f" (see {related})"
    return Problem(message, file_path, loaded.locate(issue.source, issue.path), issue.severity)


def _position(problem: Problem) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)
