"""Writes RESULTS-style figures of the reliability runs to `bench/RELIABILITY.md`.

Each run replaces its own section (between HTML comment markers) so the file keeps the latest
figures of every trial kind side by side; the prose around the sections is left alone. The
read-modify-write holds an exclusive lock, so trials running in parallel (pytest-xdist workers)
never drop each other's sections.
"""

from __future__ import annotations

import fcntl
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "RELIABILITY.md"


def record(section: str, figures: dict[str, object]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- begin: {section} -->",
        f"### {section}",
        "",
        f"Recorded {stamp} on {platform.machine()} / Python {platform.python_version()}.",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in figures.items()],
        f"<!-- end: {section} -->",
    ]
    block = "\n".join(lines)
    pattern = re.compile(
        rf"<!-- begin: {re.escape(section)} -->.*?<!-- end: {re.escape(section)} -->", re.DOTALL
    )
    with RESULTS.open("a") as lock:  # (creates it empty if it is missing)
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() or "# Reliability results\n"
        text = (
            pattern.sub(lambda _: block, text)
            if pattern.search(text)
            else text.rstrip() + "\n\n" + block + "\n"
        )
        RESULTS.write_text(text)
