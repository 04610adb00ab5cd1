"""`python -m bench all [--store sqlite|postgres|both] [--quick]`: the six benchmarks of issue 7.

Benchmarks print figures and never fail on a slow machine; the exit status is 0 unless a benchmark
could not run at all. Figures go to stdout as they come and to bench/RESULTS.md at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import broadcast, inbound, latency, memory, rate, timers
from bench.harness import Stores, quiet_logs
from bench.machine import describe
from bench.report import Report
from notifier import eventloop

NAMES = ("broadcast", "rate", "latency", "timers", "inbound", "memory")
FULL = {  # the sizes issue 7 names
    "broadcast": 10_000,
    "rate": (1000, 100.0),
    "latency": 500,
    "timers": (100_000, 1000),
    "inbound": 1000,
    "memory": (10_000, 100),
    "growth": (1000, 10_000, 50_000),
}
QUICK = {
    "broadcast": 500,
    "rate": (300, 50.0),
    "latency": 150,
    "timers": (20_000, 300),
    "inbound": 200,
    "memory": (2000, 20),
    "growth": (250, 500, 1000),
}


SMOKE = {  # tests/bench: every benchmark's code path in seconds, figures meaningless
    "broadcast": 40,
    "rate": (30, 30.0),
    "latency": 10,
    "timers": (300, 20),
    "inbound": 20,
    "memory": (60, 3),
    "growth": (20, 40, 60),
}
SIZES = {"full": FULL, "quick": QUICK, "smoke": SMOKE}


async def run(names: list[str], stores_wanted: list[str], size: str, report: Report) -> int:
    sizes = SIZES[size]
    work = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    stores = Stores(work)
    failures = 0
    try:
        if "broadcast" in names:
            base = await _guard(report, "baseline", "-", broadcast.baselines(sizes["broadcast"], 50))
            if base:
                report.baseline(base, sizes["broadcast"])
        for kind in stores_wanted:
            for name in names:
                coro = _bench(name, kind, sizes, stores, work)
                figures = await _guard(report, name, kind, coro)
                if figures is None:
                    failures += 1
                else:
                    report.add(name, kind, figures)
    finally:
        stores.close()
    return failures


def _bench(name: str, kind: str, sizes: dict[str, Any], stores: Stores, work: Path) -> Any:
    if name == "broadcast":
        return broadcast.engine_broadcast(stores, kind, sizes["broadcast"], work)
    if name == "rate":
        count, per_second = sizes["rate"]
        return rate.adherence(stores, kind, count, per_second, work)
    if name == "latency":
        return latency.latency(stores, kind, sizes["latency"], 50.0, work)
    if name == "timers":
        pending, sample = sizes["timers"]
        return timers.lateness(stores, kind, pending, sample, 100.0, work)
    if name == "inbound":
        return inbound.acks_per_second(stores, kind, sizes["inbound"], 50, work)
    return _memory(kind, sizes, stores, work)


async def _memory(kind: str, sizes: dict[str, Any], stores: Stores, work: Path) -> dict[str, Any]:
    contacts, activations = sizes["memory"]
    live = await memory.resident(stores, kind, contacts, activations, work)
    first = min(sizes["growth"])  # the same number of messages at every size: cost per message
    growth = [await memory.resident(stores, kind, n, 1, work, first=first) for n in sizes["growth"]]
    return {"live": live, "growth": growth}


async def _guard(report: Report, name: str, kind: str, coro: Any) -> Any:
    started = time.perf_counter()
    print(f"== {name} [{kind}] ...", flush=True)
    try:
        figures = await coro
    except Exception as exc:  # a benchmark that cannot run is reported, the others still run
        traceback.print_exc()
        report.error(name, kind, f"{type(exc).__name__}: {exc}")
        return None
    print(f"   {name} [{kind}] {time.perf_counter() - started:.1f} s: {figures}", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["all"], help="all, or some of: " + ", ".join(NAMES))
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks run at all")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    names = list(NAMES) if "all" in args.which else [n for n in args.which if n in NAMES]
    unknown = [n for n in args.which if n != "all" and n not in NAMES]
    if unknown or not names:
        parser.error(f"unknown benchmark {unknown[0] if unknown else ''}; choose from {', '.join(NAMES)}")
    os.environ.setdefault("NOTIFIER_CONFIG", "/nonexistent/notifier.yaml")
    quiet_logs()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    report = Report(describe(), quick=size != "full", command=" ".join(["python -m bench", *sys.argv[1:]]))
    started = time.perf_counter()
    failures = eventloop.run(run(names, stores, size, report))
    report.total_seconds = time.perf_counter() - started
    args.output.write_text(report.markdown())
    print(f"wrote {args.output} ({report.total_seconds:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
