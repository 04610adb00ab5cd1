"""RESULTS.md: the machine, each figure beside its goal from issue 7, and how far a missed goal is.
The profile findings (bench/analysis.md, written by hand from py-spy runs) are appended verbatim."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.memory import growth_exponent

ANALYSIS = Path(__file__).with_name("analysis.md")


def _verdict(ok: bool, miss: str) -> str:
    return "met" if ok else f"**missed**: {miss}"


@dataclass
class Report:
    machine: dict[str, str]
    quick: bool
    command: str
    total_seconds: float = 0.0
    base: dict[str, float] = field(default_factory=dict)
    base_count: int = 0
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def baseline(self, figures: dict[str, float], count: int) -> None:
        self.base, self.base_count = figures, count

    def error(self, name: str, kind: str, message: str) -> None:
        self.errors.append(f"- {name} [{kind}]: could not run: {message}")

    def _row(self, bench: str, kind: str, figure: str, goal: str, verdict: str) -> None:
        self.rows.append((bench, kind, figure, goal, verdict))

    def add(self, name: str, kind: str, f: dict[str, Any]) -> None:
        getattr(self, f"_{name}")(kind, f)

    def _broadcast(self, kind: str, f: dict[str, float]) -> None:
        best = max(self.base.values(), default=0.0)
        ratio = f["rate"] / best if best else math.nan
        sdk = f["rate"] / self.base["sdk"] if self.base.get("sdk") else math.nan
        figure = (
            f"{f['rate']:.0f} msg/s over {self.base_count or '?'} contacts ({f['seconds']:.1f} s; activate "
            f"{f['activate_s']:.2f} s; wire {f['wire_rate']:.0f}/s); ratio {ratio:.2f} to the best "
            f"baseline, {sdk:.2f} to the SDK baseline; RSS {f['rss_mb']:.0f} MB"
        )
        ok = f["rate"] >= 1000 and ratio >= 0.6
        miss = f"{f['rate'] / 1000:.0%} of 1,000/s, ratio {ratio:.2f} of 0.6"
        self._row("1 broadcast", kind, figure, ">= 1,000/s and >= 0.6 x baseline", _verdict(ok, miss))

    def _rate(self, kind: str, f: dict[str, float]) -> None:
        figure = (
            f"configured {f['configured']:.0f}/s, achieved {f['achieved']:.1f}/s "
            f"({f['deviation_pct']:+.1f}%), seconds {f['worst_second']:.0f}..{f['best_second']:.0f}, "
            f"max gap {f['max_gap_ms']:.0f} ms, idle gaps {f['idle_gaps']:.0f}"
        )
        ok = abs(f["deviation_pct"]) <= 2 and f["idle_gaps"] == 0
        miss = f"deviation {f['deviation_pct']:+.1f}%, {f['idle_gaps']:.0f} idle gaps"
        self._row("2 sender rate", kind, figure, "within 2%, no idle gaps", _verdict(ok, miss))

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

    def _memory(self, kind: str, f: dict[str, Any]) -> None:
        live = f["live"]
        figure = (
            f"{live['contacts']:.0f} contacts, {live['activations']:.0f} live activations: RSS "
            f"{live['rss_live_mb']:.0f} MB (after start {live['rss_start_mb']:.0f} MB; start "
            f"{live['start_s']:.1f} s, activations {live['activate_s']:.1f} s)"
        )
        ok = live["rss_live_mb"] < 200
        self._row("6 memory", kind, figure, "< 200 MB", _verdict(ok, f"{live['rss_live_mb']:.0f} MB"))
        g = f["growth"]
        first = g[0]["contacts"]
        steps = ", ".join(
            f"{p['contacts']:.0f}: start {p['start_s']:.1f} s, activate {p['activate_s']:.1f} s, first "
            f"{first:.0f} sent {_sending(p):.1f} s later, RSS {p['rss_live_mb']:.0f} MB"
            for p in g
        )
        exps = {
            key: growth_exponent([(p["contacts"], p[key]) for p in g]) for key in ("start_s", "activate_s")
        }
        mem = [(p["contacts"], p["rss_live_mb"] - g[0]["rss_start_mb"] + 1e-9) for p in g]
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

    def markdown(self) -> str:
        m = self.machine
        lines = [
            "# Benchmark results (issue 7)",
            "",
            f"Written by `{self.command}` on {m['date']} in {self.total_seconds:.0f} s"
            + (" (--quick: smaller sizes than the issue asks)." if self.quick else "."),
            "",
            f"Machine: {m['cores']} cores, {m['memory']} memory, Python {m['python']}, {m['platform']}; "
            f"load average at the start {m.get('load', '?')} (1/5/15 min).",
            "Stores: SQLite (aiosqlite, WAL, file in /tmp) and PostgreSQL "
            "(temporary local cluster, fsync off).",
            "The sandbox runs in its own process; the engine, HTTP API and benchmark client share one.",
            "",
        ]
        if self.base:
            lines += [
                f"Baseline (same sandbox process, {self.base_count} SMS, concurrency 50, no database): "
                f"raw aiohttp {self.base['raw']:.0f} msg/s, twilio SDK {self.base['sdk']:.0f} msg/s.",
                "",
            ]
        lines += ["| benchmark | store | figures | goal | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        if self.errors:
            lines += ["", "Benchmarks that could not run:", *self.errors]
        if ANALYSIS.is_file():
            lines += ["", ANALYSIS.read_text().rstrip()]
        return "\n".join(lines) + "\n"


def _sending(point: dict[str, Any]) -> float:
    """Seconds from the end of the activation to the first messages sent (the probe times both from
    the start of the activation)."""
    return float(point["first_sent_s"] - point["activate_s"])
