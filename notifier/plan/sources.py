"""Find, read and classify the YAML files named on a command line or in the settings.

A directory such as `config/` holds plan files beside other YAML (the daemon's own
`notifier.yaml`), so a file is classified by its top-level keys: plan sections make a plan file,
`calltrees`/`policies`/`routes` make a call-tree file, anything else in a directory is left alone.
A file named explicitly must be one of the two kinds. Nothing here raises on bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifier.domain.references import close_match
from notifier.plan.problems import Location, Problem
from notifier.plan.yamlsource import YamlDocument, parse_yaml

PLAN_SECTIONS = ("organisation", "people", "roles", "teams", "services", "vendors", "sites")
TREE_SECTIONS = ("calltrees", "policies", "routes")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Source:
    """One YAML file: its parsed document and which kinds of section it holds."""

    name: str
    explicit: bool
    doc: YamlDocument
    kinds: set[str] = field(default_factory=set)

    @property
    def data(self) -> dict[Any, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}


#: default of settings.limits.yaml_file_bytes: a plan of 50,000 people is about 15 MB
MAX_FILE_BYTES = 64_000_000


def scan(paths: Sequence[Path], max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Source], list[Problem]]:
    """Read every file under `paths` (directories expand to their *.yaml / *.yml, sorted); a file
    larger than `max_bytes` is refused unread (settings.limits.yaml_file_bytes)."""
    problems: list[Problem] = []
    named: list[tuple[Path, bool]] = []
    for path in paths:
        try:
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
                if not found:
                    problems.append(
                        Problem(
                            "no .yaml or .yml files in this directory",
                            (),
                            Location(str(path), 0, 0),
                            "warning",
                        )
                    )
                named.extend((p, False) for p in found)
            elif path.exists():
                named.append((path, True))
            else:
                problems.append(Problem("no such file or directory", (), Location(str(path), 0, 0)))
        except OSError as exc:
            problems.append(Problem(f"cannot read: {exc.strerror or exc}", (), Location(str(path), 0, 0)))
    sources: list[Source] = []
    seen: set[Path] = set()
    for path, explicit in named:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        sources.append(read_source(path, explicit, max_bytes))
    return sources, problems


def read_source(path: Path, explicit: bool, max_bytes: int = MAX_FILE_BYTES) -> Source:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            doc = YamlDocument(name)
            doc.problems.append(Problem(
                f"the file is {size} bytes, more than the limit of {max_bytes} (limits.yaml_file_bytes)",
                (), Location(name, 0, 0)))
            return Source(name, explicit, doc)
        raw = path.read_bytes()
    except OSError as exc:
        doc = YamlDocument(name)
        doc.problems.append(Problem(f"cannot read: {exc.strerror or exc}", (), Location(name, 0, 0)))
        return Source(name, explicit, doc)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw[: exc.start].rfind(b"\n") + 1) + 1
        doc = YamlDocument(name)
        doc.problems.append(
            Problem("this file is not UTF-8 text; save it as UTF-8", (), Location(name, line, column))
        )
        return Source(name, explicit, doc)
    return source_from_text(text, name, explicit)


def source_from_text(text: str, name: str, explicit: bool = True) -> Source:
    """Parse and classify one file's text; the problems found are kept on `source.doc`."""
    source = Source(name, explicit, parse_yaml(text, name))
    doc = source.doc
    if not doc.ok:
        return source
    whole_file = Location(name, 0, 0)
    if doc.data is None:
        if explicit:  # in a directory it is left alone, like any YAML that is not ours
            doc.problems.append(Problem("the file is empty", (), whole_file))
        return source
    if not isinstance(doc.data, dict):
        got = "a list" if isinstance(doc.data, list) else "a single value"
        doc.problems.append(
            Problem(
                f"expected a mapping of sections at the top level (organisation:, people:, calltrees:, ...), "
                f"got {got}",
                (),
                doc.locate(()),
            )
        )
        return source
    keys = [k for k in doc.data if isinstance(k, str)]
    if any(k in PLAN_SECTIONS for k in keys):
        source.kinds.add("plan")
    if any(k in TREE_SECTIONS for k in keys):
        source.kinds.add("trees")
    if not source.kinds:
        if explicit:
            doc.problems.append(
                Problem(
                    "not a plan or call-tree file: it has none of the sections "
                    f"{', '.join(PLAN_SECTIONS + TREE_SECTIONS)}",
                    (),
                    doc.locate(()),
                )
            )
        return source
    allowed = PLAN_SECTIONS + TREE_SECTIONS
    for key in doc.data:
        if key not in allowed:
            hint = close_match(str(key), allowed)
            message = f"unknown section '{key}' (allowed: {', '.join(allowed)})"
            if hint:
                message += f"; did you mean '{hint}'?"
            doc.problems.append(Problem(message, (str(key),), doc.locate((key,))))
    return source
