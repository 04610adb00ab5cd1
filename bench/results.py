"""bench/results.json: the run's headline figures per store, for machines to read (issue 19).

A figure the run did not measure (a benchmark not run, a size not reached, a broadcast cut off
before the figure existed) is null, never estimated; `notes` says why where it was attempted.
Figures at --quick or --smoke sizes are written too (`size` says which): rates such as acks/s are
measured at any size, the keys that name a size (10k, 50k) only at that size.
`activations_per_s_p99_under_50ms` is the capacity sweep's knee: 0 when it ran and no rate it
tested met p99 < 50 ms (null only when it did not run). Besides the keys issue 19 names,
`start_50k_s` is the 50,000-person daemon's start-up (the plan load), which `first_sms_50k_s`
(from the start call) does not include.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.report import Report

STORES = ("sqlite", "postgres")
KEYS = (
    "activations_per_s_p99_under_50ms",
    "first_sms_50k_s",
    "rss_50k_mb",
    "rss_10k_100_live_mb",
    "broadcast_10k_msg_per_s",
    "broadcast_10k_ratio",
    "inbound_acks_per_s",
    "deadline_p99_ms",
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def store_results(report: Report, kind: str, size: str) -> dict[str, Any]:
    f = report.figures
    values: dict[str, Any] = dict.fromkeys((*KEYS, "start_50k_s"))
    notes: list[str] = []
    if (capacity := f.get(("capacity", kind))) is not None:
        values["activations_per_s_p99_under_50ms"] = _number(capacity["knee"])
    sweep = {p["contacts"]: p for p in f.get(("sweep", kind), [])}
    if (p := sweep.get(50_000)) is not None:
        if p.get("not_run"):
            notes.append("50,000: not run, the time budget was spent")
        elif "error" in p:
            notes.append(f"50,000: could not run: {p['error']}")
        else:
            values["rss_50k_mb"] = _number(p.get("peak_rss_mb"))
            values["start_50k_s"] = _number(p.get("start_s")) if p.get("start_done", True) else None
            if not p.get("start_done", True):
                notes.append(
                    f"rss_50k_mb: the peak until start-up was stopped at its limit "
                    f"({p['start_limit_s']:.0f} s): a lower bound"
                )
                notes.append(f"first_sms_50k_s: start-up did not finish within {p['start_limit_s']:.0f} s")
            elif not p.get("complete"):
                notes.append(
                    f"rss_50k_mb: the peak until the broadcast was cut off ({p['limit_s']:.0f} s "
                    f"after the start call, {p['sent']} of 50,000 sent): a lower bound"
                )
            values["first_sms_50k_s"] = _number(p.get("first_sms_s"))
            if values["first_sms_50k_s"] is None and p.get("start_done", True):
                notes.append(f"first_sms_50k_s: no SMS within {p['limit_s']:.0f} s of the start call")
    live = f.get(("memory", kind))
    if live is not None and (live["contacts"], live["activations"]) == (10_000, 100):
        values["rss_10k_100_live_mb"] = _number(live["rss_live_mb"])
    broadcast = f.get(("broadcast", kind))  # the broadcast sweep's point of benchmark 1's size
    if broadcast is not None and broadcast.get("contacts") == 10_000:
        if broadcast.get("complete") and broadcast.get("rate"):
            values["broadcast_10k_msg_per_s"] = _number(broadcast["rate"])
            best = report.best_baseline()
            values["broadcast_10k_ratio"] = _number(broadcast["rate"] / best) if best else None
        elif "error" not in broadcast and broadcast.get("start_done", True):
            notes.append(
                f"broadcast_10k_msg_per_s: did not complete, {broadcast.get('sent', 0)} of 10,000 sent "
                f"within {broadcast.get('limit_s', 0):.0f} s of the start call"
            )
    if (inbound := f.get(("inbound", kind))) is not None:
        values["inbound_acks_per_s"] = _number(inbound["acks_per_s"])
    if (timers := f.get(("timers", kind))) is not None:
        values["deadline_p99_ms"] = _number(timers["p99_ms"])
    machine = {k: v for k, v in report.machine.items() if k != "date"}
    return {**values, "machine": machine, "date": report.machine["date"], "size": size, "notes": notes}


def write(path: Path, report: Report, size: str) -> None:
    data = {kind: store_results(report, kind, size) for kind in STORES}
    path.write_text(json.dumps(data, indent=2) + "\n")
