"""Fixture access for the plan-loading tests: a valid TAXUD/NIST plan and call tree to break."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid"


def valid_text(name: str) -> str:
    return (VALID / name).read_text()


def edited(text: str, old: str, new: str) -> str:
    """`text` with `old` replaced once; fails loudly when the fixture no longer contains `old`."""
    assert text.count(old) == 1, f"fixture text not found exactly once: {old!r}"
    return text.replace(old, new)


def copy_valid(target: Path) -> Path:
    """A writable copy of the valid fixture directory."""
    destination = target / "plan-copy"
    shutil.copytree(VALID, destination)
    return destination


def edit_file(path: Path, old: str, new: str) -> None:
    path.write_text(edited(path.read_text(), old, new))


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of `needle` (to assert positions without hard-coding)."""
    index = text.index(needle)
    return text[:index].count("\n") + 1
