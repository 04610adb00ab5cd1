"""`python -m bench all [--store sqlite|postgres|both] [--quick|--smoke]`: the benchmarks of issues 7
and 19.

Benchmarks print figures and never fail on a slow machine; the exit status is 0 unless a benchmark
could not run at all. Figures go to stdout as they come and, at the end, to bench/RESULTS.md, the
sweep plots beside it (capacity.png, broadcast-sweep.png) and bench/results.json. Each benchmark
runs on every store before the next one starts; the broadcast sweep runs last: its points up to
benchmark 1's size (which is its 10,000 point: one measurement, two rows) run to completion, the
larger ones share what is left of the run's time budget (`budget_s`), so a slow engine shortens
them instead of the run overrunning.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import broadcast, capacity, harness, inbound, latency, memory, plots, rate, results, sweep, timers
from bench.harness import Stores, quiet_logs
from bench.machine import describe
from bench.report import Report
from notifier import eventloop

# in the order they run; the broadcast (the sweep's point of its size) and the sweep last
NAMES = ("rate", "latency", "capacity", "timers", "inbound", "memory", "broadcast", "sweep")
FULL = {  # the sizes issues 7 and 19 name
    "broadcast": 10_000,  # a point of the sweep, run to completion
    "rate": (1000, 100.0),
    "latency": 500,
    # rates, seconds of alerts per rate, at least this many alerts, seconds to wait for the last SMS
    "capacity": ((10.0, 25.0, 50.0, 100.0, 200.0, 400.0), 3.0, 100, 10.0),
    "timers": (100_000, 1000),
    "inbound": 1000,
    "memory": (10_000, 100),
    "sweep": (1000, 10_000, 50_000, 100_000),  # also the growth row (start-up, activation, memory)
    "once": (100_000,),  # sweep sizes run on one store only (the last asked for)
    "budget_s": 570.0,  # the whole run, under 10 minutes with the report and the clean-up
}
QUICK = {
    "broadcast": 1000,
    "rate": (300, 50.0),
    "latency": 150,
    "capacity": ((10.0, 50.0, 200.0), 2.0, 40, 5.0),
    "timers": (20_000, 300),
    "inbound": 200,
    "memory": (2000, 20),
    "sweep": (250, 1000, 2500),
    "once": (),
    "budget_s": 420.0,
}
SMOKE = {  # tests/bench_smoke: every benchmark's code path in seconds, figures meaningless
    "broadcast": 40,
    "rate": (30, 30.0),
    "latency": 10,
    "capacity": ((20.0, 40.0), 0.2, 6, 5.0),
    "timers": (300, 20),
    "inbound": 20,
    "memory": (60, 3),
    "sweep": (20, 40),  # two points: enough for the growth row
    "once": (),
    "budget_s": 900.0,  # never cuts the smoke run short: it is there to run every code path
}
SIZES = {"full": FULL, "quick": QUICK, "smoke": SMOKE}


async def run(
    names: list[str], stores_wanted: list[str], size: str, report: Report, budget: float | None = None
) -> int:
    sizes = SIZES[size]
    deadline = time.time() + (budget or sizes["budget_s"])
    work = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    stores = Stores(work)
    failures = 0
    try:
        if "broadcast" in names or "sweep" in names:  # the bare client the broadcasts are judged against
            base = await _guard(report, "baseline", "-", broadcast.baselines(sizes["broadcast"], 50))
            if base:
                report.baseline(base, sizes["broadcast"])
        for name in names:
            if name in ("broadcast", "sweep"):
                continue
            for kind in stores_wanted:
                coro = _bench(name, kind, sizes, stores, work)
                figures = await _guard(report, name, kind, coro)
                if figures is None:
                    failures += 1
                else:
                    report.add(name, kind, figures)
        if "broadcast" in names or "sweep" in names:
            failures += await _sweep(report, stores_wanted, names, sizes, stores, work, deadline)
    finally:
        stores.close()
        shutil.rmtree(work, ignore_errors=True)  # plans, SQLite files: 200 MB after a full run
    return failures


async def _sweep(
    report: Report,
    kinds: list[str],
    names: list[str],
    sizes: dict[str, Any],
    stores: Stores,
    work: Path,
    deadline: float,
) -> int:
    """The broadcast sweep of every store (or only its benchmark-1 point), its rows (1 broadcast,
    8 broadcast sweep, 6 growth) and its errors."""
    size = sizes["broadcast"]
    counts = tuple(sorted({*sizes["sweep"], size})) if "sweep" in names else (size,)
    once = sizes["once"] if "sweep" in names else ()
    run = sweep.sweep(stores, kinds, counts, work, deadline, complete_upto=size, once=once)
    points = await _guard(report, "sweep", "+".join(kinds), run)
    if points is None:
        return 1
    failures = 0
    for kind in kinds:
        for p in points[kind]:
            if "error" in p:
                report.error(f"sweep {p['contacts']:,}", kind, p["error"])
                failures += 1
        if "broadcast" in names:
            report.add("broadcast", kind, next(p for p in points[kind] if p["contacts"] == size))
        if "sweep" in names:
            report.add("sweep", kind, points[kind])
            report.add("growth", kind, points[kind])
    return failures


def _bench(name: str, kind: str, sizes: dict[str, Any], stores: Stores, work: Path) -> Any:
    if name == "rate":
        count, per_second = sizes["rate"]
        return rate.adherence(stores, kind, count, per_second, work)
    if name == "latency":
        return latency.latency(stores, kind, sizes["latency"], 50.0, work)
    if name == "capacity":
        rates, seconds, least, settle = sizes["capacity"]
        return capacity.capacity(stores, kind, rates, seconds, least, settle, work)
    if name == "timers":
        pending, sample = sizes["timers"]
        return timers.lateness(stores, kind, pending, sample, 100.0, work)
    if name == "inbound":
        return inbound.acks_per_second(stores, kind, sizes["inbound"], 50, work)
    contacts, activations = sizes["memory"]
    return memory.resident(stores, kind, contacts, activations, work)


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


def _plots(report: Report, kinds: list[str], directory: Path) -> None:
    """The sweeps' PNGs beside RESULTS.md, linked from it; a sweep not run has no plot."""
    data = {k: report.figures[("capacity", k)] for k in kinds if ("capacity", k) in report.figures}
    if data:
        plots.capacity(directory / "capacity.png", data)
        report.plots.append(("Capacity sweep", "capacity.png"))
    points = {k: report.figures[("sweep", k)] for k in kinds if ("sweep", k) in report.figures}
    if points:
        plots.sweep(directory / "broadcast-sweep.png", points, report.best_baseline())
        report.plots.append(("Broadcast sweep", "broadcast-sweep.png"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["all"], help="all, or some of: " + ", ".join(NAMES))
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks run at all")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument(
        "--budget", type=float, help="seconds for the whole run (default: 570 full, 420 --quick)"
    )
    parser.add_argument(
        "--webhook-workers",
        type=int,
        default=harness.WEBHOOK_WORKERS,
        help="webhook worker processes of the daemon under test (0: it takes its webhooks itself)",
    )
    args = parser.parse_args()
    harness.WEBHOOK_WORKERS = args.webhook_workers
    os.environ["BENCH_WEBHOOK_WORKERS"] = str(args.webhook_workers)  # the sweep's probes too
    names = list(NAMES) if "all" in args.which else [n for n in args.which if n in NAMES]
    unknown = [n for n in args.which if n != "all" and n not in NAMES]
    if unknown or not names:
        parser.error(f"unknown benchmark {unknown[0] if unknown else ''}; choose from {', '.join(NAMES)}")
    os.environ.setdefault("NOTIFIER_CONFIG", "/nonexistent/notifier.yaml")
    quiet_logs()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    command = " ".join(["python -m bench", *sys.argv[1:]])
    report = Report(describe(), quick=size != "full", command=command, size=size, kinds=stores)
    report.full_run = size == "full" and names == list(NAMES) and len(stores) == 2
    started = time.perf_counter()
    failures = eventloop.run(run(names, stores, size, report, args.budget))
    report.total_seconds = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        _plots(report, stores, args.output.parent)
    except Exception as exc:  # the figures are still written without their pictures
        traceback.print_exc()
        report.error("plots", "-", f"{type(exc).__name__}: {exc}")
        failures += 1
    args.output.write_text(report.markdown())
    results.write(args.output.with_name("results.json"), report, size)
    print(f"wrote {args.output}, its plots and results.json beside it ({report.total_seconds:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
