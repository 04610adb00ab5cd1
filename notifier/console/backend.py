"""What the console's pages read: activations, alerts, drills, the plan, tokens.

Everything goes through the engine and the stores (no SQL here). Data handed to templates is
JSON-ready and, for a viewer, masked by the API's own `mask_data`: the console applies the same
role matrix as the REST API, with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.api.auth import OPERATORS, READERS
from notifier.api.engine_api import EngineAPI
from notifier.api.masking import mask_data
from notifier.api.tokens import Role, TokenRecord, TokenStore
from notifier.clock import as_utc
from notifier.console.session import Session, SessionSigner
from notifier.domain.review import review_plan
from notifier.engine import views
from notifier.engine.contract import AlertFilter
from notifier.engine.core import Engine
from notifier.reports.build import load_log, record_from_row
from notifier.reports.figures import compute, summarize
from notifier.scheduling.timing import next_drill
from notifier.settings import Settings
from notifier.store.activation_repo import load_activation_row
from notifier.store.console_queries import drill_ids, next_escalations
from notifier.store.plans import PlanStore

OPEN = ("open", "completed")  # completed: every required node answered, not closed yet


#: what a Now page card shows of an activation
_CARD = {"id", "ref", "tree", "kind", "status", "started_at", "started_by", "counts"}


@dataclass(frozen=True)
class Principal:
    """Who is signed in: the API token's record and the session it signed in with."""

    record: TokenRecord
    session: Session
    csrf: str
    region: str | None = None  # where numbers without + are read (the API's viewer masking)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def role(self) -> str:
        return self.record.role.value

    @property
    def can_act(self) -> bool:
        return self.record.role in OPERATORS

    @property
    def is_admin(self) -> bool:
        return self.record.role is Role.ADMIN

    def shown(self, data: Any) -> Any:
        """`data` as this principal may see it (contact details masked for viewers)."""
        return data if self.can_act else mask_data(data, self.region)


CONSOLE_ROLES = READERS  # integration tokens post alerts; they cannot read, so cannot sign in


@dataclass
class ConsoleBackend:
    service: EngineAPI
    engine: Engine
    tokens: TokenStore
    plans: PlanStore | None
    settings: Settings
    signer: SessionSigner
    #: sessions signed out before their expiry (session id -> expiry); kept in memory
    signed_out: dict[str, int] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.engine.config.plan.organisation.timezone)
        except (KeyError, ValueError):
            return ZoneInfo("UTC")

    def now(self) -> datetime:
        return self.engine.clock.now()

    # --- activations -----------------------------------------------------------------------
    async def activation(self, activation_id: str, who: Principal) -> dict[str, Any] | None:
        """The Activation page's data: the live tree, figures, next escalations, activity log."""
        engine = self.engine
        async with engine.db.connect() as conn:
            row = await load_activation_row(conn, activation_id)
            if row is None:
                return None
            log = await load_log(conn, activation_id)
            pending = await next_escalations(conn, activation_id)
        running = row.status in OPEN
        snapshot = engine.stepper.snapshot_of(row.id, row.snapshot, cache=running)
        view = views.view(row, snapshot)
        figures = compute(record_from_row(row), log, [])
        upcoming = []
        for deadline in pending:
            node, _, person = deadline.key.removeprefix("ack:").partition("/")
            holder = snapshot.people.get(person)
            node_snap = snapshot.nodes.get(node)
            upcoming.append(
                {
                    "due_at": deadline.due_at,
                    "who": holder.name if holder else deadline.key,
                    "node": (node_snap.label or node_snap.ref) if node_snap else "",
                }
            )
        elapsed = (self.now() - view.started_at).total_seconds()
        end = view.completed_at or (self.now() if running else as_utc(row.closed_at) or self.now())
        data = {
            "view": view.model_dump(mode="json"),
            "report": figures.model_dump(mode="json"),
            "next": upcoming if running else [],
            "open": row.status in OPEN,
            "limit_s": snapshot.time_limit.total_seconds(),
            "elapsed_s": elapsed if running else (end - view.started_at).total_seconds(),
            "fields": dict(row.fields or {}),
        }
        shown: dict[str, Any] = who.shown(data)
        return shown

    async def now_page(self, who: Principal) -> dict[str, Any]:
        """Open activations with their progress, and the latest alerts with their outcome."""
        summaries = [s for s in await self.service.list_activations(None, 50) if s.status in OPEN]
        running = []
        async with self.engine.db.connect() as conn:
            for summary in summaries[:20]:
                row = await load_activation_row(conn, summary.id)
                if row is None:
                    continue
                snapshot = self.engine.stepper.snapshot_of(row.id, row.snapshot, cache=row.status in OPEN)
                view = views.view(row, snapshot)
                running.append(
                    {
                        # the card's fields only: not every person of a large tree, dumped and (for a
                        # viewer) masked at each render of the Now page
                        "view": view.model_dump(mode="json", include=_CARD),
                        "elapsed_s": (self.now() - view.started_at).total_seconds(),
                        "limit_s": snapshot.time_limit.total_seconds(),
                        "unreachable": [n.label for n in view.nodes if n.status == "unreachable"],
                    }
                )
        alerts = [a.model_dump(mode="json") for a in await self.service.list_alerts(AlertFilter(limit=15))]
        shown: dict[str, Any] = who.shown({"activations": running, "alerts": alerts})
        return shown

    # --- drills ----------------------------------------------------------------------------
    async def drills_page(self) -> dict[str, Any]:
        schedule = []
        org_zone = self.engine.config.plan.organisation.timezone
        for drill in self.settings.schedule.drills:
            zone = drill.timezone or org_zone
            try:
                upcoming = next_drill(drill.cron, zone, self.now()) if drill.enabled else None
            except ValueError:
                upcoming = None
            schedule.append(
                {
                    "tree": drill.tree,
                    "cron": drill.cron,
                    "zone": zone,
                    "enabled": drill.enabled,
                    "announced": drill.announced,
                    "next": upcoming,
                }
            )
        past = []
        async with self.engine.db.connect() as conn:
            for activation_id in await drill_ids(conn, 30):
                row = await load_activation_row(conn, activation_id)
                if row is None:
                    continue
                record = record_from_row(row)
                past.append(
                    {"tree": record.tree_id, **summarize(compute(record, [], [])).model_dump(mode="json")}
                )
        return {"schedule": schedule, "past": past, "enabled": self.settings.schedule.enabled}

    # --- plan ------------------------------------------------------------------------------
    async def plan_page(self, who: Principal, today: date) -> dict[str, Any]:
        config = self.engine.config
        findings = [
            {"severity": f.severity, "code": f.code, "subject": f.subject, "message": f.message}
            for f in review_plan(config.plan, config.trees, today)
        ]
        versions: list[dict[str, Any]] = []
        changes: list[str] = []
        if self.plans is not None:
            versions = [vars(v) for v in reversed(await self.plans.versions())]
            if versions:
                changes = [str(c) for c in await self.plans.changes(versions[0]["version"])]
        plan = config.plan.model_dump(mode="json")
        return {
            "plan": who.shown(plan),
            "findings": who.shown(findings),
            "versions": versions[:20],
            "changes": changes[:200],
            "plan_version": config.plan_version,
            "trees": [{"id": t.id, "name": t.name, "mode": str(t.mode)} for t in config.trees.calltrees],
        }
