"""RESULTS.md: the machine, the targets of issue 19 (bench/targets.py), each benchmark's figures beside
its goal from issues 7 and 19 and how far a missed goal is, then the sections of bench/analysis.md
(written by hand: profile, cause and what would close it, per target missed)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness, targets
from bench.memory import growth_exponent

ANALYSIS = Path(__file__).with_name("analysis.md")


def _verdict(ok: bool, miss: str) -> str:
    return "met" if ok else f"**missed**: {miss}"


@dataclass
class Report:
    machine: dict[str, str]
    quick: bool
    command: str
    size: str = "full"
    kinds: list[str] = field(default_factory=lambda: ["sqlite", "postgres"])
    full_run: bool = False  # every benchmark at the full sizes: its time is the "< 10 min" figure
    total_seconds: float = 0.0
    base: dict[str, float] = field(default_factory=dict)
    base_count: int = 0
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    figures: dict[tuple[str, str], Any] = field(default_factory=dict)  # (benchmark, store) -> figures
    plots: list[tuple[str, str]] = field(default_factory=list)  # (title, file name beside RESULTS.md)

    def baseline(self, figures: dict[str, float], count: int) -> None:
        self.base, self.base_count = figures, count

    def error(self, name: str, kind: str, message: str) -> None:
        self.errors.append(f"- {name} [{kind}]: could not run: {message}")

    def _row(self, bench: str, kind: str, figure: str, goal: str, verdict: str) -> None:
        self.rows.append((bench, kind, figure, goal, verdict))

    def add(self, name: str, kind: str, f: Any) -> None:
        self.figures[(name, kind)] = f
        getattr(self, f"_{name}")(kind, f)

    def best_baseline(self) -> float:
        return max(self.base.values(), default=0.0)

    def _broadcast(self, kind: str, p: dict[str, Any]) -> None:
        """Benchmark 1: the broadcast sweep's point of its size (10,000 in the full run)."""
        n, goal = p["contacts"], ">= 1,000/s and >= 0.5 x bare client (issue 19; issue 7 asked 0.6)"
        if "error" in p or p.get("not_run") or not p.get("start_done", True):
            self._row("1 broadcast", kind, f"{n:,} contacts: {_point_text(p, 0.0)}", goal, "not measured")
            return
        best = self.best_baseline()
        rate = p.get("rate", 0.0)
        ratio = rate / best if best else math.nan
        sdk = rate / self.base["sdk"] if self.base.get("sdk") else math.nan
        if p.get("complete"):
            wire = (p["sent"] - 1) / (p["last_sms_s"] - p["first_sms_s"]) if p["sent"] > 1 else 0.0
            figure = (
                f"{rate:.0f} msg/s over {n:,} contacts (start call -> last SMS {p['last_sms_s']:.1f} s, "
                f"first SMS {_secs(p['first_sms_s'])}, activate {p.get('activate_s', math.nan):.2f} s; wire "
                f"{wire:.0f}/s); ratio {ratio:.2f} to the best bare client, {sdk:.2f} to the SDK client; "
                f"peak RSS {p['peak_rss_mb']:.0f} MB; daemon start-up {p['start_s']:.1f} s (not counted)"
            )
        else:
            figure = f"{n:,} contacts: {_point_text(p, best)}; ratio {ratio:.2f} to the best bare client"
        ok = bool(p.get("complete")) and rate >= 1000 and ratio >= 0.5
        miss = f"{rate / 1000:.0%} of 1,000/s, ratio {ratio:.2f} of 0.5" + (
            "" if p.get("complete") else f", {p['sent']:,} of {n:,} sent"
        )
        self._row("1 broadcast", kind, figure, goal, _verdict(ok, miss))

    def _rate(self, kind: str, f: dict[str, float]) -> None:
        figure = (
            f"configured {f['configured']:.0f}/s, achieved {f['achieved']:.1f}/s "
            f"({f['deviation_pct']:+.1f}%), seconds {f['worst_second']:.0f}..{f['best_second']:.0f}; "
            f"idle gaps in the pool's schedule {f['idle_gaps']:.0f}"
            + (f" (longest {f['max_idle_ms']:.0f} ms)" if f["idle_gaps"] else "")
            + f"; at the provider: longest gap {f['max_gap_ms']:.0f} ms, {f['late_gaps']:.0f} gaps of sends "
            f"due and late (lateness p99 {f['late_p99_ms']:.0f} ms, max {f['late_max_ms']:.0f} ms)"
        )
        ok = abs(f["deviation_pct"]) <= 2 and f["idle_gaps"] == 0
        miss = f"deviation {f['deviation_pct']:+.1f}%, {f['idle_gaps']:.0f} idle gaps"
        goal = "within 2%, no idle gaps (a pause > 3 intervals in the schedule)"
        self._row("2 sender rate", kind, figure, goal, _verdict(ok, miss))

    def _latency(self, kind: str, f: dict[str, dict[str, float]]) -> None:
        """HTTP and MQTT, each judged on its own; the goal is met only when both meet it."""
        figures, misses = [], []
        for name, key in (("HTTP", "http"), ("MQTT", "mqtt")):
            t = f[key]
            figures.append(
                f"{name}: {t['accepted']:.0f}/{t['alerts']:.0f} accepted at 50/s, {t['sms']:.0f} SMS; "
                f"p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms, max {t['max_ms']:.0f} ms"
            )
            missed = []
            if not (t["p50_ms"] < 10 and t["p99_ms"] < 50):
                missed.append(f"p50 {t['p50_ms'] / 10:.1f}x, p99 {t['p99_ms'] / 50:.1f}x the goal")
            if t["sms"] < t["alerts"]:
                missed.append(f"{t['alerts'] - t['sms']:.0f} alerts without an SMS")
            if missed:
                misses.append(f"{name} " + ", ".join(missed))
        verdict = _verdict(not misses, "; ".join(misses))
        self._row("3 alert -> provider", kind, ". ".join(figures), "p50 < 10 ms, p99 < 50 ms", verdict)

    def _timers(self, kind: str, f: dict[str, float]) -> None:
        figure = (
            f"{f['pending']:.0f} pending; {f['fired']:.0f}/{f['expected']:.0f} sample deadlines fired; "
            f"lateness p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, max {f['max_ms']:.0f} ms"
        )
        ok = f["p99_ms"] < 100 and f["fired"] >= f["expected"]
        miss = f"p99 {f['p99_ms']:.0f} ms, {f['fired']:.0f}/{f['expected']:.0f} fired"
        self._row("4 deadlines", kind, figure, "p99 < 100 ms", _verdict(ok, miss))

    def _inbound(self, kind: str, f: dict[str, float]) -> None:
        figure = (
            f"{f['recorded']:.0f}/{f['replies']:.0f} signed replies recorded as acks "
            f"in {f['seconds']:.1f} s: "
            f"{f['acks_per_s']:.0f} acks/s"
        )
        ok = f["acks_per_s"] >= 1000
        miss = f"{f['acks_per_s'] / 1000:.0%} of 1,000/s"
        self._row("5 inbound acks", kind, figure, ">= 1,000 acks/s", _verdict(ok, miss))

    def _memory(self, kind: str, live: dict[str, Any]) -> None:
        figure = (
            f"{live['contacts']:.0f} contacts, {live['activations']:.0f} live activations: RSS "
            f"{live['rss_live_mb']:.0f} MB (after start {live['rss_start_mb']:.0f} MB; start "
            f"{live['start_s']:.1f} s, activations {live['activate_s']:.1f} s)"
        )
        ok = live["rss_live_mb"] < 200
        self._row("6 memory", kind, figure, "< 200 MB", _verdict(ok, f"{live['rss_live_mb']:.0f} MB"))

    def _growth(self, kind: str, points: list[dict[str, Any]]) -> None:
        """From the broadcast sweep's points: start-up, activation, memory and the first messages."""
        g = [p for p in points if "activate_s" in p and "first_sent_s" in p]
        if len(g) < 2:
            cut = ", ".join(f"{p['contacts']:,}" for p in points if p not in g)
            self._row(
                "6 growth",
                kind,
                f"fewer than two sweep points got that far (cut off: {cut})",
                "linear",
                "not judged",
            )
            return
        first = min(p["contacts"] for p in points)
        steps = ", ".join(
            f"{p['contacts']:.0f}: start {p['start_s']:.1f} s, activate {p['activate_s']:.1f} s, first "
            f"{first:.0f} sent {_sending(p):.1f} s later, RSS {p['rss_first_sent_mb']:.0f} MB"
            for p in g
        )
        exps = {
            key: growth_exponent([(p["contacts"], p[key]) for p in g]) for key in ("start_s", "activate_s")
        }
        mem = [(p["contacts"], p["rss_first_sent_mb"] - g[0]["rss_start_mb"] + 1e-9) for p in g]
        exps["memory above start"] = growth_exponent(mem)
        # the same number of messages at every size: flat if a message's cost does not grow with N
        per_message = _sending(g[-1]) / _sending(g[0]) if _sending(g[0]) > 0 else float("nan")
        shown = ", ".join(f"{k} {v:.2f}" for k, v in exps.items())
        shown += (
            f"; first {first:.0f} sent at {g[-1]['contacts']:.0f} vs {first:.0f} contacts: x{per_message:.2f}"
        )
        ok = all(v < 1.3 for v in exps.values() if not math.isnan(v)) and per_message < 2
        self._row(
            "6 growth",
            kind,
            f"{steps}; growth exponents (1 = linear): {shown}",
            "linear",
            _verdict(ok, "super-linear: " + shown),
        )

    def _capacity(self, kind: str, f: dict[str, Any]) -> None:
        points = f["points"]
        shown = "; ".join(
            f"{p['rate']:g}/s: p50 {_ms(p['p50_ms'])}, p99 {_ms(p['p99_ms'])}"
            + (
                f" ({p['alerts'] - p['sms']:.0f} of {p['alerts']:.0f} not sent)"
                if p["sms"] < p["alerts"]
                else ""
            )
            for p in points
        )
        skipped = [r for r in f["rates"] if r not in [p["rate"] for p in points]]
        if skipped:
            shown += f"; not run above a p99 of 1 s: {', '.join(f'{r:g}' for r in skipped)}/s"
        knee = f["knee"]
        figure = (
            f"HTTP alert -> first provider request, {points[0]['alerts']:.0f}+ alerts per rate: {shown}. "
            + (
                f"**Knee: {knee:g}/s** (the highest rate with p99 < 50 ms and every SMS sent)"
                if knee
                else "**Knee: none** (no rate tested had p99 < 50 ms with every SMS sent)"
            )
            + f"; baseline of this run: the lowest rate, {points[0]['rate']:g}/s, "
            f"p99 {_ms(points[0]['p99_ms'])}"
        )
        ok = knee >= 200
        self._row(
            "7 capacity",
            kind,
            figure,
            ">= 200 activations/s with p99 < 50 ms",
            _verdict(ok, f"knee {knee:g}/s" if knee else "no rate tested met it"),
        )

    def _sweep(self, kind: str, points: list[dict[str, Any]]) -> None:
        base = self.best_baseline()
        figure = "; ".join(f"{p['contacts']:,}: {_point_text(p, base)}" for p in points)
        if base:
            figure += f". Bare client of this run: {base:.0f} msg/s"
        by = {p["contacts"]: p for p in points if "error" not in p and not p.get("not_run")}
        misses = []
        if 50_000 in by:
            p = by[50_000]
            if not p.get("first_sms_s", math.inf) <= 1.0:
                misses.append(f"first SMS at 50,000 {_s(p.get('first_sms_s'))}")
            if not p["peak_rss_mb"] < 400:
                misses.append(f"peak RSS at 50,000 {p['peak_rss_mb']:.0f} MB")
        if 100_000 in by and not by[100_000].get("complete"):
            misses.append("100,000 did not complete")
        judged = 50_000 in by or 100_000 in by
        verdict = (
            _verdict(not misses, "; ".join(misses)) if judged else "not judged (no 50,000 or 100,000 point)"
        )
        goal = "first SMS of 50,000 within 1 s; peak RSS < 400 MB at 50,000; 100,000 completes"
        self._row("8 broadcast sweep", kind, figure, goal, verdict)

    def markdown(self) -> str:
        m = self.machine
        lines = [
            "# Benchmark results (issues 7 and 19)",
            "",
            f"Written by `{self.command}` on {m['date']} in {self.total_seconds:.0f} s"
            + (" (--quick or --smoke: smaller sizes than the issues ask)." if self.quick else "."),
            "",
            f"Machine: {m['cores']} cores, {m['memory']} memory, Python {m['python']}, {m['platform']}; "
            f"load average at the start {m.get('load', '?')} (1/5/15 min).",
            "Stores: SQLite (aiosqlite, WAL, file in /tmp) and PostgreSQL "
            "(temporary local cluster, fsync off).",
            "The sandbox runs in its own process; the engine, HTTP API and benchmark client share one"
            + (
                f"; Twilio's webhooks go to {harness.WEBHOOK_WORKERS} webhook worker process(es) "
                "(`--webhook-workers`)."
                if harness.WEBHOOK_WORKERS
                else "; it takes Twilio's webhooks itself (`--webhook-workers 0`)."
            ),
            "",
        ]
        if self.base:
            lines += [
                f"Baseline (same sandbox process, {self.base_count} SMS, concurrency 50, no database): "
                f"raw aiohttp {self.base['raw']:.0f} msg/s, twilio SDK {self.base['sdk']:.0f} msg/s.",
                "",
            ]
        table, missed = targets.table(self, self.kinds, self.size)
        lines += [
            "## Targets of issue 19",
            "",
            "Each figure beside its goal and what this run measured to compare it with; the sections"
            " below the tables say, for each target missed, the profile, the cause and what would close it.",
            "",
            *table,
            "",
            "## Every benchmark (issues 7 and 19)",
            "",
        ]
        lines += ["| benchmark | store | figures | goal | verdict |", "|---|---|---|---|---|"]
        # grouped by store, in the benchmarks' numbering (they run benchmark by benchmark)
        stores = list(dict.fromkeys(row[1] for row in self.rows))
        rows = sorted(self.rows, key=lambda row: (stores.index(row[1]), int(row[0].split()[0])))
        lines += [f"| {' | '.join(row)} |" for row in rows]
        if self.plots:
            lines += [""] + [f"![{title}]({name})" for title, name in self.plots]
        if self.errors:
            lines += ["", "Benchmarks that could not run:", *self.errors]
        lines += targets.analysis(ANALYSIS, missed)
        return "\n".join(lines) + "\n"


def _point_text(p: dict[str, Any], base: float) -> str:
    """One broadcast sweep point: start-up, then everything from the start call."""
    n = p["contacts"]
    if p.get("not_run"):
        if "other_store" in p:
            return f"run on {p['other_store']} only (one store's share of the 10-minute budget)"
        return "not run (the time budget was spent)"
    if "error" in p:
        return "could not run"
    if not p.get("start_done", True):
        return (
            f"start-up did not finish within its limit of {p['start_limit_s']:.0f} s "
            f"(peak RSS {p['peak_rss_mb']:.0f} MB until then)"
        )
    first = f"first SMS {_secs(p['first_sms_s'])}" if "first_sms_s" in p else "no SMS"
    rate = f", {p['rate']:.0f} msg/s" if p.get("rate") else ""
    if p.get("complete"):
        last = f"last {_secs(p['last_sms_s'])}{rate}"
    else:
        last = f"did not complete within {p['limit_s']:.0f} s ({p['sent']:,} of {n:,} sent{rate})"
    bare = f" (bare client {_secs(n / base)})" if base else ""
    until = "" if p.get("complete") else " until then"
    return (
        f"start-up {p['start_s']:.1f} s, then from the start call {first}, {last}{bare}, "
        f"peak RSS {p['peak_rss_mb']:.0f} MB{until}"
    )


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if math.isfinite(value) else "not all sent"


def _secs(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _s(value: float | None) -> str:
    return "none within the limit" if value is None else f"{value:.1f} s"


def _sending(point: dict[str, Any]) -> float:
    """Seconds from the end of the activation to the first messages sent (the probe times both from
    the start of the activation)."""
    return float(point["first_sent_s"] - point["activate_s"])
