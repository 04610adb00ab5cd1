"""`notifier demo`: the whole system on one machine, with nothing to install and no credentials.

Why it exists: a newcomer should see a call tree run before reading any documentation, and an
operator should be able to check a fresh install in under a minute. It starts the same `Runtime` as
`notifier serve` (migrated SQLite in a temporary directory, the in-process Twilio/SMTP sandbox, the
example plan and call trees, a clock running `speed` times faster than the wall), scripts the
sandbox personas so that the interesting paths show (most people confirm, one declines, a team
leader and their alternate never answer, so escalation and skip-level happen), activates the NIST
sample tree, shows its progress live, and writes the after-action report.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from notifier.domain.calltree import ActivationKind
from notifier.domain.plan import ChannelKind, Plan
from notifier.domain.snapshot import Snapshot
from notifier.domain.state import ActivationState
from notifier.reports.model import ReportData
from notifier.reports.tables import format_seconds
from notifier.runtime import Runtime, make_clock
from notifier.sandbox import Persona, preset
from notifier.settings import Settings

DEMO_TREE = "nist-sample"
# the outage takes the e-mail service down with the data centre, so the plan's phone-only policy applies
DEMO_POLICY = "phone-only"
SILENT_ROLE = "server-recovery-lead"  # its holder and first alternate never answer
DECLINING_ROLE = "junior-systems-engineer"  # its only holder declines
PHONE_ROLE = "database-analyst"  # ignores the SMS, confirms by pressing 1 on the call
DEMO_FIELDS = {
    "nature": "Power loss at the primary data centre (Luxembourg); SEED, TARIC and EOS are down",
    "outage_estimate": "6 hours",
    "response": "Recover TARIC and EOS at the secondary site",
    "convene": "Secondary site crisis room, 14:00",
    "relocation": "Server and database teams relocate to the secondary site",
    "instructions": "Call your team members now and confirm",
}
STATUS_STYLE = {
    "pending": "grey50",
    "notifying": "yellow",
    "acknowledged": "green",
    "declined": "magenta",
    "unreachable": "bold red",
    "cancelled": "grey50",
}


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 100.0
    seed: int = 7
    out_dir: Path = Path("var/demo")
    plan_paths: tuple[Path, ...] = ()
    calltree_paths: tuple[Path, ...] = ()
    timeout: float = 55.0  # wall seconds before the demo gives up waiting for completion
    #: "Twilio is down": Twilio answers 503, SMS fail over to the on-premises gateway (sandbox's)
    twilio_down: bool = False


@dataclass
class Cast:
    """Who behaves how; the summary names them so the reader can follow the escalation."""

    silent: list[str] = field(default_factory=list)
    declining: list[str] = field(default_factory=list)
    by_phone: list[str] = field(default_factory=list)
    confirming: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoResult:
    activation_id: str
    report_html: Path
    report_md: Path
    data: ReportData
    cast: Cast


def example_paths() -> tuple[list[Path], list[Path]]:
    """The example plan and call trees: from the working directory, else beside the package."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        plan, trees = root / "config" / "plan.yaml", root / "calltrees"
        if plan.is_file() and trees.is_dir():
            return [plan], [trees]
    raise FileNotFoundError("the example plan (config/plan.yaml) and calltrees/ were not found")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_settings(options: DemoOptions, directory: Path) -> Settings:
    plans, trees = example_paths()
    port = _free_port()
    return Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'demo.db'}",
        plan_paths=list(options.plan_paths) or plans,
        calltree_paths=list(options.calltree_paths) or trees,
        public_base_url=f"http://127.0.0.1:{port}",
        http_host="127.0.0.1",
        http_port=port,
        sandbox=True,
        clock_scale=options.speed,
        secret_key=secrets.token_urlsafe(24),
        mqtt={"enabled": False},
        # SMS fail over from Twilio to the on-premises gateway (the sandbox's stand-in for Kannel)
        delivery={"sms": ["twilio", "kannel"], "chat": []},
    )


def tree_people(plan: Plan, snapshot_roles: list[str]) -> list[str]:
    people: list[str] = []
    for role_id in snapshot_roles:
        role = plan.role(role_id)
        for person in role.holders if role else ():
            if person not in people:
                people.append(person)
    return people


def cast_personas(runtime: Runtime, tree_roles: list[str], rng: random.Random) -> Cast:
    """Script every phone and mailbox of the tree's people in the sandbox."""
    assert runtime.engine is not None and runtime.sandbox is not None
    plan = runtime.engine.config.plan
    cast = Cast()
    silent_role = plan.role(SILENT_ROLE)
    if silent_role is not None and silent_role.primary:
        cast.silent = [silent_role.primary, *silent_role.alternates[:1]]
    special = set(cast.silent)
    for role_id, bucket in ((DECLINING_ROLE, cast.declining), (PHONE_ROLE, cast.by_phone)):
        role = plan.role(role_id)
        if role is not None and role.primary and role.primary not in special:
            bucket.append(role.primary)
            special.add(role.primary)
    for person_id in tree_people(plan, tree_roles):
        if person_id in cast.silent:
            behaviour = preset("never_answers", "+00")
        elif person_id in cast.declining:
            behaviour = preset("declines", "+00", reply_after=rng.uniform(40, 120))
        elif person_id in cast.by_phone:
            behaviour = preset("confirms", "+00", sms_reply=None, digits="1")
        else:
            cast.confirming.append(person_id)
            behaviour = preset("confirms", "+00", reply_after=rng.uniform(20, 150))
        _bind(runtime, person_id, behaviour)
    return cast


def _bind(runtime: Runtime, person_id: str, behaviour: Persona) -> None:
    assert runtime.engine is not None and runtime.sandbox is not None
    person = runtime.engine.config.plan.person(person_id)
    if person is None:
        return
    for contact in person.contacts:
        if contact.kind is ChannelKind.EMAIL:
            runtime.sandbox.personas.add(replace(behaviour, number="", email=contact.address))
        else:
            runtime.sandbox.personas.add(replace(behaviour, number=contact.address))


def tree_roles(runtime: Runtime, tree_id: str) -> list[str]:
    assert runtime.engine is not None
    tree = runtime.engine.config.trees.tree(tree_id)
    if tree is None:
        raise KeyError(f"call tree {tree_id!r} is not in the example call trees")
    roles: list[str] = []
    stack = list(reversed(tree.nodes))
    while stack:
        node = stack.pop()
        if node.role:
            roles.append(node.role)
        stack.extend(reversed(node.children))
    return roles


# --- progress -------------------------------------------------------------------------------------


def node_line(snapshot: Snapshot, state: ActivationState, key: str) -> Text:
    node = snapshot.nodes[key]
    node_state = state.nodes.get(key)
    status = node_state.status if node_state else "pending"
    line = Text(f"{node.label} ", style="bold")
    line.append(f"[{status}]", style=STATUS_STYLE.get(status, ""))
    who = _current_holder(snapshot, state, key)
    if who:
        line.append(f"  {who}", style="dim")
    return line


def _current_holder(snapshot: Snapshot, state: ActivationState, key: str) -> str:
    node_state = state.nodes.get(key)
    if node_state is not None and node_state.acked_by:
        person = snapshot.people.get(node_state.acked_by)
        return f"confirmed by {person.name if person else node_state.acked_by}"
    cursors = [c for c in state.cursors.values() if c.node == key]
    if not cursors:
        return ""
    cursor = max(cursors, key=lambda c: c.holder_index)
    person = snapshot.people.get(cursor.person)
    name = person.name if person else cursor.person
    attempt = state.attempts.get(cursor.attempt or "")
    suffix = f" by {attempt.channel.value} ({attempt.status})" if attempt else ""
    role = "alternate " if cursor.holder_index > 0 else ""
    return f"{role}{name}: {cursor.status}{suffix}"


def progress_tree(snapshot: Snapshot, state: ActivationState) -> Tree:
    root = Tree(Text(snapshot.tree_name, style="bold cyan"))

    def add(parent: Tree, key: str) -> None:
        branch = parent.add(node_line(snapshot, state, key))
        for child in snapshot.nodes[key].children:
            add(branch, child)

    for key in snapshot.roots:
        add(root, key)
    return root


def counts_line(snapshot: Snapshot, state: ActivationState, elapsed: timedelta) -> Text:
    by_status: dict[str, int] = {}
    for node_state in state.nodes.values():
        by_status[node_state.status] = by_status.get(node_state.status, 0) + 1
    sent: dict[str, int] = {}
    for attempt in state.attempts.values():
        sent[attempt.channel.value] = sent.get(attempt.channel.value, 0) + 1
    limit = snapshot.time_limit
    text = Text()
    text.append(f"tree time {format_seconds(int(elapsed.total_seconds()))}", style="bold")
    over = elapsed > limit
    text.append(f" / limit {format_seconds(int(limit.total_seconds()))}", style="red" if over else "")
    text.append("   nodes: ")
    for status in ("acknowledged", "declined", "unreachable", "notifying", "pending"):
        text.append(f"{by_status.get(status, 0)} {status}  ", style=STATUS_STYLE[status])
    text.append("\nmessages: " + (", ".join(f"{n} {ch}" for ch, n in sorted(sent.items())) or "none yet"))
    confirmed = len({c.person for c in state.cursors.values() if c.status == "acknowledged"})
    text.append(f"   people confirmed: {confirmed}")
    return text


def transitions(snapshot: Snapshot, before: ActivationState | None, after: ActivationState) -> Iterator[str]:
    """Plain progress lines (no terminal): one per node status change."""
    for key, node_state in after.nodes.items():
        old = before.nodes[key].status if before and key in before.nodes else "pending"
        if node_state.status != old:
            yield f"{snapshot.nodes[key].label}: {node_state.status}. {_current_holder(snapshot, after, key)}"


# --- the run --------------------------------------------------------------------------------------


async def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    from notifier.reports.build import render_report
    from notifier.store.db import upgrade_async

    with tempfile.TemporaryDirectory(prefix="notifier-demo-") as tmp:
        settings = demo_settings(options, Path(tmp))
        await upgrade_async(settings.database_url)
        runtime = Runtime(settings, make_clock(settings))
        await runtime.start(http=True)
        try:
            assert runtime.engine is not None and runtime.db is not None
            if options.twilio_down and runtime.sandbox is not None:
                runtime.sandbox.faults.twilio_down = True  # every Twilio request answers 503
            cast = cast_personas(runtime, tree_roles(runtime, DEMO_TREE), random.Random(options.seed))
            activation_id = await runtime.engine.activate(
                DEMO_TREE,
                ActivationKind.INCIDENT,
                DEMO_FIELDS,
                started_by="notifier demo",
                reason="demonstration on the built-in sandbox",
                policy=DEMO_POLICY,
            )
            await _watch(runtime, activation_id, options, console)
            options.out_dir.mkdir(parents=True, exist_ok=True)
            async with runtime.db.connect() as conn:
                html = await render_report(conn, activation_id, "html")
                markdown = await render_report(conn, activation_id, "md")
                raw = await render_report(conn, activation_id, "json")
            assert html is not None and markdown is not None and raw is not None
            data = ReportData.model_validate_json(raw)
            stem = options.out_dir / f"demo-{data.ref}"
            html_path, md_path = stem.with_suffix(".html"), stem.with_suffix(".md")
            html_path.write_bytes(html)
            md_path.write_bytes(markdown)
            return DemoResult(activation_id, html_path.resolve(), md_path.resolve(), data, cast)
        finally:
            await runtime.stop(timeout=5)


async def _load(runtime: Runtime, activation_id: str) -> tuple[Snapshot, ActivationState, str]:
    from notifier.engine.views import load_row

    assert runtime.engine is not None
    async with runtime.engine.db.connect() as conn:
        row = await load_row(conn, activation_id)
    snapshot = runtime.engine.stepper.snapshot_of(activation_id, row.snapshot)
    return snapshot, ActivationState.model_validate(row.state), row.status


def _finished(state: ActivationState) -> bool:
    return state.status != "open" or state.exhausted


async def _watch(runtime: Runtime, activation_id: str, options: DemoOptions, console: Console) -> None:
    assert runtime.engine is not None
    clock = runtime.engine.clock
    loop = asyncio.get_running_loop()
    give_up = loop.time() + options.timeout
    snapshot, state, _ = await _load(runtime, activation_id)
    interactive = console.is_terminal
    previous: ActivationState | None = None
    live = Live(console=console, refresh_per_second=8, transient=False) if interactive else None
    with live if live is not None else contextlib.nullcontext():
        while True:
            snapshot, state, _ = await _load(runtime, activation_id)
            elapsed = clock.now() - state.started_at
            if live is not None:
                live.update(Group(progress_tree(snapshot, state), counts_line(snapshot, state, elapsed)))
            else:
                stamp = format_seconds(int(elapsed.total_seconds()))
                for line in transitions(snapshot, previous, state):
                    console.print(f"[{stamp}] {line}", markup=False, highlight=False)
            previous = state
            if _finished(state) or loop.time() > give_up:
                break
            await asyncio.sleep(0.25)
    if not _finished(state):
        console.print(
            f"the demo stopped waiting after {options.timeout:.0f} s; the report shows where it stood"
        )


def summary_table(result: DemoResult) -> Table:
    data = result.data
    c = data.counts
    table = Table(title=f"{data.tree_name} (ref {data.ref})", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("people notified", str(c.notified))
    table.add_row("reached", str(c.reached))
    table.add_row("confirmed", str(c.confirmed))
    table.add_row("declined", str(c.declined))
    table.add_row("unreachable", str(c.unreachable))
    for miss in data.unreachable:
        reasons = list(dict.fromkeys(miss.reasons))  # the same reason once, however many rounds
        table.add_row("", f"{miss.name} ({miss.outcome}): " + "; ".join(reasons))
    completion = format_seconds(data.completion_s) if data.completion_s is not None else "not completed"
    table.add_row(
        "completion",
        f"{completion} against a limit of {format_seconds(data.time_limit_s)}: "
        f"{data.verdict} ({data.verdict_reason})",
    )
    by_provider: dict[str, int] = {}
    for delivery in data.deliveries:
        key = f"{delivery.channel} via {delivery.provider}" + (
            " (no answer)" if delivery.status == "unknown" else ""
        )
        by_provider[key] = by_provider.get(key, 0) + 1
    if by_provider:
        table.add_row("delivery", ", ".join(f"{k}: {v}" for k, v in sorted(by_provider.items())))
    table.add_row("report", str(result.report_html))
    table.add_row("", str(result.report_md))
    return table


def print_summary(result: DemoResult, console: Console) -> None:
    console.print(summary_table(result))
    cast = result.cast
    console.print(
        f"Scripted: {len(cast.confirming)} people confirm by SMS, {len(cast.by_phone)} by phone, "
        f"{len(cast.declining)} declines, {len(cast.silent)} never answer "
        f"(the {SILENT_ROLE} and their alternate).",
        highlight=False,
    )
