"""Tables of the dispatch engine: activations, outbox, deadlines, activity log, responses, alerts.

An activation's frozen snapshot and planner state are JSON documents in `activation_documents` (the
state is a checkpoint, with the steps since in `activation_changes`); the outbox and deadline
rows are what the dispatcher and the deadline waiter work from. All of them are written in the same
transaction as the state they follow from, which is what makes a crash lose nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from notifier.store.tables import metadata

_ID = String(40)
_TS = DateTime(timezone=True)


def _serial_id() -> Column[int]:
    """An `id` primary key numbered by the database (BIGINT, INTEGER on SQLite for its rowid)."""
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


def _activation_fk(
    ondelete: str = "CASCADE", *, primary_key: bool = False, nullable: bool | None = None
) -> Column[str]:
    """The `activation_id` a row belongs to (deleted with it, or set to NULL: `ondelete`)."""
    fk = ForeignKey("activations.id", ondelete=ondelete)
    if nullable is None:
        nullable = not primary_key  # SQLAlchemy's own default
    return Column("activation_id", _ID, fk, primary_key=primary_key, nullable=nullable)

activations = Table(
    "activations",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("ref", String(8), nullable=False),
    Column("tree_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", _TS, nullable=False),
    Column("completed_at", _TS),
    Column("closed_at", _TS),
    Column("started_by", String(128), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("plan_version", Integer),
    Column("fields", JSON, nullable=False),
    Column("revision", Integer, nullable=False, default=0),
    Column("updated_at", _TS, nullable=False),
    Index("ix_activations_status", "status"),
    Index("ix_activations_tree_started", "tree_id", "started_at"),
)

#: the big documents of an activation, apart from its row: a step updates the row (status,
#: revision) every time and these only at a checkpoint. In one row, SQLite rewrote the whole record
#: (megabytes at 10,000 contacts) on every step and walked it to read `revision` (migration 0006)
activation_documents = Table(
    "activation_documents",
    metadata,
    _activation_fk(primary_key=True),
    Column("snapshot", JSON, nullable=False),
    Column("state", JSON, nullable=False),
)

#: the planner state's journal: each step appends what it changed (`domain/statedelta.py`); the
#: current state is `activations.state` (the last checkpoint) with these applied in `seq` order
activation_changes = Table(
    "activation_changes",
    metadata,
    _activation_fk(primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("delta", JSON, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    _serial_id(),
    # empty for messages outside any activation (review requests, heads-ups, report mails)
    _activation_fk(nullable=True),
    Column("attempt_id", String(24), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("address", String(320), nullable=False),
    Column("message_kind", String(32), nullable=False),
    Column("message", JSON, nullable=False),
    Column("tracked", Integer, nullable=False, default=1),  # 0: no planner waits for its outcome
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed | unknown
    Column("not_before", _TS, nullable=False),
    Column("lease_until", _TS),
    Column("claimed_by", String(64)),
    Column("tries", Integer, nullable=False, default=0),
    Column("created_at", _TS, nullable=False),
    Column("sent_at", _TS),
    Column("sender", String(32)),
    Column("provider", String(32)),  # the provider of the failover chain that answered (0009)
    Column("provider_id", String(64)),
    Column("error_code", String(16)),
    Column("detail", Text),
    UniqueConstraint("activation_id", "attempt_id", name="uq_outbox_attempt"),
    Index("ix_outbox_ready", "status", "not_before"),
    # the claim takes the oldest ready rows (ORDER BY id): without this, 49,000 pending rows of a
    # 50,000-person broadcast were sorted again for every claim (migration 0006)
    Index("ix_outbox_queue", "status", "id"),
    Index("ix_outbox_provider", "provider_id"),
    Index("ix_outbox_address", "address"),
)

deadlines = Table(
    "deadlines",
    metadata,
    _activation_fk(primary_key=True),
    Column("key", String(160), primary_key=True),
    Column("due_at", _TS, nullable=False),
    Column("fence", Integer, nullable=False),
    Index("ix_deadlines_due", "due_at"),
)

activity_log = Table(
    "activity_log",
    metadata,
    _serial_id(),
    _activation_fk(nullable=False),
    Column("at", _TS, nullable=False),
    Column("step", String(64), nullable=False),
    Column("who", String(160)),
    Column("outcome", Text, nullable=False, default=""),
    Column("problem", Text),
    Index("ix_activity_activation", "activation_id", "id"),
)

responses = Table(
    "responses",
    metadata,
    _serial_id(),
    _activation_fk(),
    Column("person_id", String(64)),
    Column("channel", String(8), nullable=False),
    Column("address", String(320), nullable=False),
    Column("raw", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("provider_id", String(64)),
    Column("received_at", _TS, nullable=False),
    Index("ix_responses_provider", "provider_id"),
)

#: provider webhooks already applied, by provider SID and status (a reply's status is "received"):
#: written with the webhook's effect, so a replayed callback or reply is acknowledged and ignored
webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("provider_sid", String(64), primary_key=True),
    Column("status", String(48), primary_key=True),
    Column("received_at", _TS, nullable=False),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("address", String(32), primary_key=True),
    Column("opted_out_at", _TS, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    _serial_id(),
    Column("source", String(16), nullable=False),
    Column("dedup_key", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("service", String(64)),
    Column("payload", JSON, nullable=False),
    Column("received_at", _TS, nullable=False),
    _activation_fk("SET NULL"),
    #: one of ALERT_OUTCOMES (notifier/domain/correlation.py); `detail` says why in words
    Column("outcome", Text, nullable=False, default=""),
    Column("detail", Text),
    Column("route", String(64)),
    Column("incident_key", String(320)),
    Column("severity", String(32)),
    Index("ix_alerts_dedup", "dedup_key"),
    Index("ix_alerts_received", "received_at"),
    Index("ix_alerts_incident", "incident_key"),
)

#: one row per incident key (migration 0008): the activation alerts of that key join, and when
#: every alert of the key last stopped firing (None while one fires)
incidents = Table(
    "incidents",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("route", String(64), nullable=False),
    _activation_fk("SET NULL"),
    Column("resolved_at", _TS),
    Column("updated_at", _TS, nullable=False),
    Column("last_update_at", _TS),  # the last "update" sent for a joined alert (route on_join)
)

#: the alerts (dedup keys) of an incident key and whether each still fires
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("incident_key", String(320), primary_key=True),
    Column("dedup_key", String(320), primary_key=True),
    Column("firing", Integer, nullable=False),
    Column("updated_at", _TS, nullable=False),
    Index("ix_incident_alerts_dedup", "dedup_key"),
)

#: PagerDuty Events API v2 routing keys: an integration token bound to a route or a call tree,
#: stored as its SHA-256 (the token itself is shown once, when created)
integration_keys = Table(
    "integration_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("route", String(64)),
    Column("calltree", String(64)),
    Column("created_at", _TS, nullable=False),
    Column("revoked_at", _TS),
)
