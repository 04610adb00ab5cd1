"""Read YAML into plain Python data while remembering where every value came from.

`yaml.safe_load` throws the positions away, and then a validation error can only say
`people[3].contacts[0].address`, not the line to fix. Here the document is composed into nodes
(which keep their marks) and converted by hand, recording `path -> Location` on the way. The walk
also rejects what `safe_load` silently accepts: duplicate mapping keys (the second would win),
recursive aliases and non-scalar keys.

The implicit typing is closer to YAML 1.2 than PyYAML's 1.1 defaults, because coordinators write
`end: 18:00` (1.1: the integer 1080), `language: no` (1.1: false) and `address: +3225551234`
(an integer in both): only `true`/`false` are booleans, there are no base-60 numbers, numbers with
a leading zero stay text, and a `+` followed by six or more digits stays text (a phone number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from notifier.plan.problems import FieldPath, Location, Problem
from notifier.plan.yamlplain import PlainReader, read_plain

MAX_DEPTH = 100
#: values that aliases may add to a document (the "billion laughs" guard). Counted only where an
#: alias repeats a value already read, so a plan of any size written out in full is never refused
#: (a 50,000-person plan has some 500,000 values of its own)
MAX_ALIAS_VALUES = 200_000

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser is ~20x faster


class _PlanLoader(_Base):  # type: ignore[misc]
    """SafeLoader with the YAML 1.2-like scalar resolution described in the module docstring."""


_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlanLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_PlanLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:0|-?[1-9][0-9_]*|\+[1-9][0-9]{0,4}|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
    list("-+0123456789"),
)
_PlanLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:0|[1-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:0|[1-9][0-9_]*)\.?[eE][-+]?[0-9]+"
        r"|[-+]?(?:0|[1-9][0-9_]*)\."
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


_PLAIN = PlainReader(_PlanLoader, MAX_DEPTH)


@dataclass
class YamlDocument:
    """The plain data of one file, where each path was written, and what could not be read."""

    file: str
    data: Any = None
    problems: list[Problem] = field(default_factory=list)
    #: the text of a document read without positions (yamlplain), until positions are asked for
    text: str | None = field(default=None, repr=False)
    _locations: dict[FieldPath, Location] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)

    @property
    def locations(self) -> dict[FieldPath, Location]:
        """Where each path was written. A document read by the fast path is read again, with
        positions, the first time they are needed (a problem to report)."""
        if self._locations is None:
            text, self.text = self.text, None
            self._locations = {} if text is None else _parse_with_positions(text, self.file).locations
        return self._locations

    def locate(self, path: FieldPath) -> Location | None:
        """The mark of `path` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return None


def parse_yaml(text: str, filename: str) -> YamlDocument:
    """Parse one YAML document; never raises, problems are collected on the result. A plain
    document is read without positions (`yamlplain`); any other by the walker, with them."""
    plain, data = read_plain(_PLAIN, text)
    if plain:
        return YamlDocument(file=filename, data=data, text=text)
    return _parse_with_positions(text, filename)


def _parse_with_positions(text: str, filename: str) -> YamlDocument:
    doc = YamlDocument(file=filename, _locations={})
    loader: _PlanLoader | None = None
    try:
        loader = _PlanLoader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        doc.problems.append(_syntax_problem(exc, filename, text))
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(_reader_problem(exc, filename, text))
        return doc
    except RecursionError:
        doc.problems.append(Problem("YAML is nested too deeply to read", (), Location(filename, 0, 0)))
        return doc
    finally:
        if loader is not None:
            loader.dispose()
    if root is None or loader is None:
        return doc
    walker = _Walker(loader, doc)
    doc.data = walker.convert(root, (), ancestors=())
    return doc


def _mark(filename: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(filename, 0, 0)
    return Location(filename, mark.line + 1, mark.column + 1)


def _syntax_problem(exc: yaml.MarkedYAMLError, filename: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "expected a single document in the stream":
        return Problem(
            "a file holds one YAML document; remove this second '---' and what follows it or "
            "move it to its own file",
            (),
            _mark(filename, mark),
        )
    message = f"YAML syntax error: {exc.problem or exc.context or 'cannot read this'}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if "\t" in (exc.problem or "") or (mark is not None and _tab_near(text, mark)):
        message += "; indent with spaces, YAML does not allow tabs"
    return Problem(message, (), _mark(filename, mark))


def _tab_near(text: str, mark: yaml.Mark) -> bool:
    lines = text.splitlines()
    return 0 <= mark.line < len(lines) and lines[mark.line][: mark.column + 1].lstrip(" ").startswith("\t")


def _reader_problem(exc: yaml.YAMLError, filename: str, text: str) -> Problem:
    position = getattr(exc, "position", None)
    location = Location(filename, 0, 0)
    if isinstance(position, int):
        before = text[:position]
        line = before.count("\n") + 1
        location = Location(filename, line, position - (before.rfind("\n") + 1) + 1)
    character = getattr(exc, "character", None)
    if isinstance(character, int):
        reason = f"control character #x{character:04x} is not allowed in YAML"
    else:
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    return Problem(f"cannot read this file as YAML text: {reason}", (), location)


class _Walker:
    """Turns composed nodes into lists, dicts and scalars, recording a Location per path."""

    def __init__(self, loader: _PlanLoader, doc: YamlDocument) -> None:
        self.loader = loader
        self.doc = doc
        self.seen: set[int] = set()
        self.repeated = 0
        self.gave_up = False

    def error(self, message: str, path: FieldPath, node: Node) -> None:
        self.doc.problems.append(Problem(message, path, _mark(self.doc.file, node.start_mark)))

    def convert(self, node: Node, path: FieldPath, ancestors: tuple[int, ...]) -> Any:
        if id(node) in self.seen:
            self.repeated += 1
            if self.repeated > MAX_ALIAS_VALUES:
                if not self.gave_up:
                    self.gave_up = True
                    self.error(
                        f"aliases expand the document by more than {MAX_ALIAS_VALUES} values", path, node
                    )
                return None
        else:
            self.seen.add(id(node))
        self.doc.locations.setdefault(path, _mark(self.doc.file, node.start_mark))
        if id(node) in ancestors:
            self.error("an alias refers to a value that contains it (a loop)", path, node)
            return None
        if len(ancestors) >= MAX_DEPTH:
            self.error(f"nested deeper than {MAX_DEPTH} levels", path, node)
            return None
        inner = (*ancestors, id(node))
        if not isinstance(node, ScalarNode) and node.tag not in (_SEQ, _MAP):
            self.error(f"cannot read this value: the tag '{node.tag}' is not supported here", path, node)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i), inner) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, inner)
        self.error("unsupported YAML node", path, node)
        return None

    def scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.error(f"cannot read this value: {problem}", path, node)
            return None
        except (ValueError, TypeError, OverflowError) as exc:
            self.error(f"cannot read this value: {exc}", path, node)
            return None

    def mapping(self, node: MappingNode, path: FieldPath, inner: tuple[int, ...]) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "bad merge key"
            self.error(f"cannot merge '<<': {problem}", path, node)
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error("a key must be plain text, not a list or mapping", path, key_node)
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            part = key if isinstance(key, str | int) and not isinstance(key, bool) else str(key)
            child: FieldPath = (*path, part)
            if key in first_seen:
                first = first_seen[key].start_mark.line + 1
                self.error(
                    f"duplicate key '{key}' (first written at line {first}); keep only one", child, key_node
                )
                continue
            first_seen[key] = key_node
            self.doc.locations[child] = _mark(self.doc.file, key_node.start_mark)
            result[key] = self.convert(value_node, child, inner)
        return result
