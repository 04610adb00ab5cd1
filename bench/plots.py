"""The two sweeps of issue 19 as PNGs beside RESULTS.md (matplotlib, drawn off-screen)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

COLOURS = {"sqlite": "tab:blue", "postgres": "tab:orange"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(*axes: Any) -> None:
    """Tick labels as plain numbers (400, 50,000) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:,.6g}")
    for ax in axes:
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)


def capacity(path: Path, data: dict[str, dict[str, Any]]) -> None:
    """p50 and p99 against the alert rate, per store; a rate with alerts left unsent is drawn as an
    x at the top of the axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    finite = [
        p[k] for f in data.values() for p in f["points"] for k in ("p50_ms", "p99_ms") if math.isfinite(p[k])
    ]
    top = max([100.0, *finite]) * 1.5
    for kind, f in data.items():
        rates = [p["rate"] for p in f["points"]]
        colour = COLOURS.get(kind)
        for key, style in (("p50_ms", "--"), ("p99_ms", "-")):
            values = [p[key] if math.isfinite(p[key]) else math.nan for p in f["points"]]
            ax.plot(rates, values, style, marker="o", color=colour, label=f"{kind} {key[:3]}")
        unsent = [p["rate"] for p in f["points"] if not math.isfinite(p["p99_ms"])]
        if unsent:
            ax.plot(
                unsent, [top] * len(unsent), "x", color=colour, markersize=10, label=f"{kind}: not all sent"
            )
        if f["knee"]:
            ax.axvline(f["knee"], color=colour, alpha=0.3, linewidth=6, label=f"{kind} knee {f['knee']:g}/s")
    ax.axhline(50, color="green", linestyle=":", label="goal: p99 < 50 ms")
    ax.axvline(200, color="green", linestyle="-.", label="goal: 200/s")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="alerts per second (each a new activation)",
        ylabel="alert -> first provider request (ms)",
        title="Capacity sweep",
    )
    ax.set_ylim(top=top * 1.2)
    _plain(ax)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sweep(path: Path, data: dict[str, list[dict[str, Any]]], baseline_rate: float) -> None:
    """Time to the first and the last SMS from the start call, and the daemon's start-up before it
    (left), and peak RSS (right) against the contacts; a broadcast cut off by its limit is drawn as
    an x at the limit."""
    plt = _pyplot()
    fig, (times, memory) = plt.subplots(1, 2, figsize=(11, 4.5))
    sizes: set[int] = set()
    for kind, points in data.items():
        ran = [p for p in points if "error" not in p and not p.get("not_run")]
        colour = COLOURS.get(kind)
        firsts = [(p["contacts"], p["first_sms_s"]) for p in ran if "first_sms_s" in p]
        lasts = [(p["contacts"], p["last_sms_s"]) for p in ran if p.get("complete")]
        cut = [(p["contacts"], p["limit_s"]) for p in ran if not p.get("complete") and p["limit_s"] > 0]
        starts = [(p["contacts"], p["start_s"]) for p in ran if p.get("start_done", True) and "start_s" in p]
        shown = ((firsts, "--o", "first SMS"), (lasts, "-o", "last SMS"), (starts, ":^", "start-up"))
        for series, style, label in shown:
            if series:
                times.plot(*zip(*series, strict=True), style, color=colour, label=f"{kind} {label}")
        if cut:
            times.plot(
                *zip(*cut, strict=True), "x", color=colour, markersize=10, label=f"{kind}: cut off at limit"
            )
        rss = [(p["contacts"], p["peak_rss_mb"]) for p in ran]
        if rss:
            memory.plot(*zip(*rss, strict=True), "-o", color=colour, label=f"{kind} peak RSS")
        sizes.update(p["contacts"] for p in ran)
    xs = sorted(sizes)
    if baseline_rate and xs:
        times.plot(xs, [n / baseline_rate for n in xs], ":", color="grey", label="bare client, this run")
    times.axhline(1.0, color="green", linestyle=":", label="goal: first SMS within 1 s")
    memory.axhline(400, color="green", linestyle=":", label="goal at 50,000: < 400 MB")
    times.set(
        xscale="log",
        yscale="log",
        xlabel="contacts",
        ylabel="seconds (SMS: from the start call)",
        title="Broadcast sweep: time to first and last SMS",
    )
    memory.set(xscale="log", xlabel="contacts", ylabel="MB", title="Peak resident memory of the daemon")
    for ax in (times, memory):
        ax.legend(fontsize=7)
    _plain(times, memory)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
