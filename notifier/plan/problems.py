"""What went wrong in a plan or call-tree file, and where.

Every error a coordinator sees names a file position and a field path, so that a problem can be
fixed without reading Python: `config/plan.yaml:12:9: people[1].contacts[0].address: phone number
is not a valid number for its country`. The loader, `notifier validate`, `plan import` and the
daemon all report through these two types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PathPart = str | int
FieldPath = tuple[PathPart, ...]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """A 1-based position in a file. Line 0 means "the file as a whole" (it could not be read)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: FieldPath) -> str:
    """`("calltrees", 0, "nodes", 1, "role")` -> `calltrees[0].nodes[1].role`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class Problem:
    """One finding. `path` is the field path inside the file that `location` points into."""

    message: str
    path: FieldPath
    location: Location | None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        """`file:line:column: path: message`; warnings say so, errors are the default."""
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.path:
            parts.append(format_path(self.path))
        prefix = "warning: " if self.severity == "warning" else ""
        parts.append(prefix + self.message)
        return ": ".join(parts)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity,
            "file": loc.file if loc else None,
            "line": loc.line if loc and loc.line > 0 else None,
            "column": loc.column if loc and loc.line > 0 else None,
            "path": format_path(self.path),
            "message": self.message,
        }


def mask_address(value: str) -> str:
    """Hide most of a phone number or email address before it is echoed in a message."""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(value) <= 6:
        return "*" * len(value)
    return value[:5] + "*" * (len(value) - 7) + value[-2:]
