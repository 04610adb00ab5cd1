"""The targets of issue 19 in one table at the top of RESULTS.md: each beside its goal and a baseline
measured in the same run, with a verdict per store; then, for every target missed, its section of
bench/analysis.md (the profile, the cause, what would close it), written by hand and keyed by the
target's name (its results.json key where it has one).

analysis.md: `## <key>` starts the section of a target (its first word is the key, the rest of the
line a title); sections whose key is no target (for example `## history`) follow the targets' in
their order. A missed target without a section says so, so a missing explanation shows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import results

Figures = dict[tuple[str, str], Any]


@dataclass(frozen=True)
class Target:
    key: str  # results.json key, or a name of its own
    title: str
    goal: str
    ok: Callable[[float], bool]
    show: Callable[[float], str]


def _mb(v: float) -> str:
    return f"{v:.0f} MB"


def _s(v: float) -> str:
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


TARGETS = (
    Target(
        "activations_per_s_p99_under_50ms",
        "new activations/s with alert -> first provider request p99 < 50 ms (capacity knee)",
        ">= 200/s",
        lambda v: v >= 200,
        lambda v: f"{v:g}/s",
    ),
    Target(
        "first_sms_50k_s",
        "first SMS of a 50,000-person broadcast, from the start call",
        "<= 1 s",
        lambda v: v <= 1.0,
        _s,
    ),
    Target(
        "rss_50k_mb", "peak RSS of the daemon, 50,000-person broadcast", "< 400 MB", lambda v: v < 400, _mb
    ),
    Target(
        "rss_10k_100_live_mb",
        "RSS with 10,000 contacts in 100 live activations",
        "< 200 MB",
        lambda v: v < 200,
        _mb,
    ),
    Target(
        "broadcast_100k_s",
        "a 100,000-person broadcast completes (start call -> last SMS)",
        "completes",
        lambda v: math.isfinite(v),
        _s,
    ),
    Target(
        "broadcast_10k_msg_per_s",
        "broadcast to 10,000, start call -> last SMS",
        ">= 1,000 msg/s",
        lambda v: v >= 1000,
        lambda v: f"{v:.0f} msg/s",
    ),
    Target(
        "broadcast_10k_ratio",
        "the same broadcast / the bare client of this run",
        ">= 0.5",
        lambda v: v >= 0.5,
        lambda v: f"{v:.2f}",
    ),
    Target(
        "inbound_acks_per_s",
        "signed inbound SMS replies recorded as acks",
        ">= 1,000 acks/s",
        lambda v: v >= 1000,
        lambda v: f"{v:.0f} acks/s",
    ),
    Target(
        "deadline_p99_ms",
        "escalation deadline lateness p99, 100,000 pending (issue 7)",
        "< 100 ms",
        lambda v: v < 100,
        lambda v: f"{v:.1f} ms",
    ),
    Target(
        "full_run_s",
        "this whole run (the full one: `python -m bench all --store both`)",
        "< 10 min",
        lambda v: v < 600,
        _s,
    ),
)


def value(key: str, kind: str, figures: Figures, report: Any, size: str) -> tuple[float | None, str]:
    """(the figure, why it is missing) for one store."""
    if key == "full_run_s":  # only the full run at the full sizes says anything about it
        return (report.total_seconds, "") if report.full_run else (None, "not the full run")
    if key == "broadcast_100k_s":
        points = {p["contacts"]: p for p in figures.get(("sweep", kind), [])}
        p = points.get(100_000)
        if p is None:
            return None, "not run"
        if p.get("not_run"):
            return None, f"run on {p['other_store']} only" if "other_store" in p else "budget spent"
        if p.get("complete"):
            return float(p["last_sms_s"]), ""
        if not p.get("start_done", True) or "error" in p:
            return math.inf, "start-up did not finish" if "error" not in p else "could not run"
        return math.inf, f"{p['sent']:,} sent within {p['limit_s']:.0f} s"
    got = results.store_results(report, kind, size)
    notes = [n for n in got["notes"] if n.startswith(key)]
    return got[key], "; ".join(n.split(": ", 1)[-1] for n in notes)


def baseline(key: str, figures: Figures, report: Any) -> str:
    """What this run measured to compare the target's figure with."""

    def sweep_point(n: int) -> dict[str, Any] | None:
        for kind in ("sqlite", "postgres"):
            for p in figures.get(("sweep", kind), []):
                if p["contacts"] == n and "first_sms_s" in p:
                    return p  # type: ignore[no-any-return]
        return None

    base = report.best_baseline()
    if key == "activations_per_s_p99_under_50ms":
        lows = [
            f"{kind} {c['points'][0]['rate']:g}/s: p99 {c['points'][0]['p99_ms']:.1f} ms"
            for kind in ("sqlite", "postgres")
            if (c := figures.get(("capacity", kind))) and c["points"]
        ]
        return "lowest rate: " + ", ".join(lows) if lows else "-"
    if key in ("first_sms_50k_s", "rss_50k_mb"):
        smallest = min(
            (p["contacts"] for k in ("sqlite", "postgres") for p in figures.get(("sweep", k), [])), default=0
        )
        p = sweep_point(smallest) if smallest else None
        if p is None:
            return "-"
        if key == "first_sms_50k_s":
            return f"{smallest:,} people: first SMS {_s(p['first_sms_s'])}"
        return f"{smallest:,} people: peak RSS {_mb(p['peak_rss_mb'])}"
    if key == "rss_10k_100_live_mb":
        starts = [
            f"{kind} {_mb(m['rss_start_mb'])}"
            for kind in ("sqlite", "postgres")
            if (m := figures.get(("memory", kind)))
        ]
        return "same daemon after start-up, before activating: " + ", ".join(starts) if starts else "-"
    if key == "broadcast_100k_s":
        return f"bare client: {_s(100_000 / base)}" if base else "-"
    if key in ("broadcast_10k_msg_per_s", "broadcast_10k_ratio"):
        if not report.base:
            return "-"
        return f"bare client raw aiohttp {report.base['raw']:.0f}, twilio SDK {report.base['sdk']:.0f} msg/s"
    if key == "inbound_acks_per_s":
        bare = [f"{kind} {b:.0f}/s" for kind in ("sqlite", "postgres") if (b := _bare_replies(figures, kind))]
        return "the same signed posts to a bare receiver: " + ", ".join(bare) if bare else "-"
    return "-"


def _bare_replies(figures: Figures, kind: str) -> float:
    f = figures.get(("inbound", kind)) or {}
    return float(f.get("bare_per_s") or 0.0)


def table(report: Any, kinds: list[str], size: str) -> tuple[list[str], list[str]]:
    """(markdown lines of the targets table, keys of the targets missed on some store)."""
    figures = report.figures
    lines = [
        "| target | goal | " + " | ".join(_store(k) for k in kinds) + " | baseline of this run | verdict |",
        "|---|---|" + "---|" * len(kinds) + "---|---|",
    ]
    missed: list[str] = []
    for t in TARGETS:
        cells: list[str] = []
        verdicts: dict[str, bool] = {}
        for kind in kinds:
            v, why = value(t.key, kind, figures, report, size)
            if v is None:
                cells.append(f"not measured ({why})" if why else "not measured")
            elif not math.isfinite(v):
                cells.append(f"did not complete ({why})")
                verdicts[kind] = False
            else:
                cells.append(t.show(v) + (f" ({why})" if why else ""))
                verdicts[kind] = t.ok(v)
        if t.key == "full_run_s":  # one figure for the whole run
            cells = cells[:1] + ["(the same run)"] * (len(kinds) - 1)
            verdicts = dict(list(verdicts.items())[:1])
        lines.append(
            f"| {t.title} (`{t.key}`) | {t.goal} | "
            + " | ".join(cells)
            + f" | {baseline(t.key, figures, report)} | {_verdict(t.key, kinds, verdicts, missed)} |"
        )
    return lines, missed


def _verdict(key: str, kinds: list[str], verdicts: dict[str, bool], missed: list[str]) -> str:
    if not verdicts:
        return "not measured"
    failed = [_store(k) for k, ok in verdicts.items() if not ok]
    if failed:
        missed.append(key)
        return "**missed**" + (f" on {', '.join(failed)}" if len(failed) < len(verdicts) else "")
    # the whole run's time and the 100,000 point are one figure, not one per store
    unmeasured = [] if key in ("full_run_s", "broadcast_100k_s") else [k for k in kinds if k not in verdicts]
    if unmeasured:
        met = ", ".join(_store(k) for k in verdicts)
        return f"met on {met}; not measured on {', '.join(map(_store, unmeasured))}"
    return "met"


def _store(kind: str) -> str:
    return {"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(kind, kind)


def sections(path: Path) -> dict[str, tuple[str, str]]:
    """{key: (heading line, body)} of analysis.md, in file order."""
    if not path.is_file():
        return {}
    found: dict[str, tuple[str, str]] = {}
    parts = re.split(r"^## ", path.read_text(), flags=re.MULTILINE)
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        key = heading.split()[0].rstrip(":") if heading.split() else ""
        found[key] = (heading.strip(), body.strip())
    return found


def analysis(path: Path, missed: list[str]) -> list[str]:
    """The sections of the targets missed (a placeholder where none is written), then the others."""
    written = sections(path)
    keys = {t.key for t in TARGETS}
    titles = {t.key: t.title for t in TARGETS}
    lines: list[str] = []
    if missed:
        lines += ["", "## Targets missed: profile, cause, what would close it"]
        for key in missed:
            heading, body = written.get(key, (f"{key}: {titles[key]}", ""))
            lines += [
                "",
                f"### {heading}",
                "",
                body or "*Not written yet: the profile, the cause, what would close it.*",
            ]
    for key, (heading, body) in written.items():
        if key not in keys:
            lines += ["", f"## {heading}", "", body]
    return lines
