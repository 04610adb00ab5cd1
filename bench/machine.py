"""What the figures were measured on: cores, memory, Python, and the process's own resident memory."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime


def describe() -> dict[str, str]:
    mem_kb = 0
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count() or 0),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),  # 1/5/15 min, when the run started
    }


def rss_mb(pid: int | None = None, field: str = "VmRSS") -> float:
    """Resident set size in MiB of `pid` (default: this process), read from /proc; `field="VmHWM"`
    gives the peak resident size the process has had so far."""
    path = f"/proc/{pid or os.getpid()}/status"
    with open(path) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
