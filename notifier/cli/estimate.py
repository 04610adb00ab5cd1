"""`notifier estimate [TREE...]`: how long each call tree takes at the configured sender rates.

A dry run on paper (see `notifier/domain/estimate.py`): the plan and trees are compiled as an
activation would compile them, and each tree's waves of messages are timed at the SMS and voice
rates of the configuration (`twilio.from_numbers` x `twilio.rate_per_sender`, or the options).
Exits 1 when a tree's first contact alone would overrun its prescribed time limit or a wave would
take longer to leave than its validity period (its last messages would never be sent).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from notifier.cli._common import err_console, fail, out_console
from notifier.domain.calltree import ActivationKind
from notifier.domain.durations import format_duration
from notifier.domain.estimate import Estimate, estimate
from notifier.domain.plan import ChannelKind
from notifier.domain.snapshot import SnapshotError, compile_snapshot
from notifier.plan.loader import load
from notifier.settings import Settings


def _row(e: Estimate) -> dict[str, object]:
    return {
        "tree": e.tree_id,
        "mode": e.mode.value,
        "nodes": e.nodes,
        "largest_wave": e.largest_wave,
        "first_contact_s": e.first_contact.total_seconds(),
        "nobody_answers_s": e.nobody_answers.total_seconds(),
        "time_limit_s": e.time_limit.total_seconds(),
        "validity_s": e.validity.total_seconds(),
        "within_time_limit": e.within_time_limit,
        "validity_exceeded": e.validity_exceeded,
    }


def estimate_command(
    trees: Annotated[list[str] | None, typer.Argument(help="Call tree ids (default: all).")] = None,
    senders: Annotated[
        int | None, typer.Option(help="SMS/voice sender numbers (default: configured).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Messages per second per sender (default: configured).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimates as JSON.")] = False,
) -> None:
    """Estimate each call tree's time to reach everyone at the configured sender rates."""
    settings = Settings()
    count = senders if senders is not None else len(settings.twilio.from_numbers)
    per_sender = rate if rate is not None else settings.twilio.rate_per_sender
    if count < 1 or per_sender <= 0:
        fail("--senders must be at least 1 and --rate positive")
    loaded = load([*settings.plan_paths, *settings.calltree_paths])
    if not loaded.ok or loaded.plan is None or loaded.trees is None:
        for problem in loaded.problems:
            err_console.print(problem.format(), markup=False)
        fail("the plan or call trees did not load; see `notifier validate`")
    rates = {ChannelKind.SMS: count * per_sender, ChannelKind.VOICE: count * per_sender}
    wanted = trees or [tree.id for tree in loaded.trees.calltrees]
    results: list[Estimate] = []
    for tree_id in wanted:
        try:
            snap = compile_snapshot(loaded.plan, loaded.trees, tree_id, ActivationKind.INCIDENT)
        except SnapshotError as exc:
            fail(str(exc))
        results.append(estimate(snap, rates))
    if as_json:
        document = {"senders": count, "rate_per_sender": per_sender, "trees": [_row(e) for e in results]}
        out_console.print(json.dumps(document, indent=2), markup=False, soft_wrap=True)
    else:
        out_console.print(f"{count} sender(s) at {per_sender:g} message(s)/s each", markup=False)
        for e in results:
            flags = [] if e.within_time_limit else ["first contact overruns the time limit"]
            if e.validity_exceeded:
                flags.append(f"a wave takes longer than the validity period ({format_duration(e.validity)})")
            out_console.print(
                f"{e.tree_id} ({e.mode.value}, {e.nodes} nodes): everyone contacted after "
                f"{format_duration(e.first_contact)} (largest wave {e.largest_wave}); nobody answering, "
                f"the last node is given up after at most {format_duration(e.nobody_answers)}; "
                f"time limit {format_duration(e.time_limit)}"
                + ("" if not flags else " - " + "; ".join(flags)),
                markup=False,
            )
    if any(not e.within_time_limit or e.validity_exceeded for e in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate_command)
