"""Engine tables: activations, outbox, deadlines, activity log, responses, opt-outs, alerts.

Revision ID: 0003_engine
Revises: 0002_api
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_engine"
down_revision = "0002_api"
branch_labels = None
depends_on = None

_ID = sa.String(40)
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "activations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("ref", sa.String(8), nullable=False),
        sa.Column("tree_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("completed_at", _TS),
        sa.Column("closed_at", _TS),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("plan_version", sa.Integer),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activations"),
    )
    op.create_index("ix_activations_status", "activations", ["status"])
    op.create_index("ix_activations_tree_started", "activations", ["tree_id", "started_at"])
    op.create_table(
        "outbox",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("activation_id", _ID, nullable=False),
        sa.Column("attempt_id", sa.String(24), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("message_kind", sa.String(32), nullable=False),
        sa.Column("message", sa.JSON, nullable=False),
        sa.Column("tracked", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("not_before", _TS, nullable=False),
        sa.Column("lease_until", _TS),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS),
        sa.Column("sender", sa.String(32)),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("error_code", sa.String(16)),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name="fk_outbox_activation_id_activations",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("activation_id", "attempt_id", name="uq_outbox_attempt"),
    )
    op.create_index("ix_outbox_ready", "outbox", ["status", "not_before"])
    op.create_index("ix_outbox_provider", "outbox", ["provider_id"])
    op.create_index("ix_outbox_address", "outbox", ["address"])
    op.create_table(
        "deadlines",
        sa.Column("activation_id", _ID, nullable=False),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("fence", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("activation_id", "key", name="pk_deadlines"),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name="fk_deadlines_activation_id_activations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_deadlines_due", "deadlines", ["due_at"])
    op.create_table(
        "activity_log",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("activation_id", _ID, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("who", sa.String(160)),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("problem", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_activity_log"),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name="fk_activity_log_activation_id_activations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_activity_activation", "activity_log", ["activation_id", "id"])
    op.create_table(
        "responses",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("activation_id", _ID),
        sa.Column("person_id", sa.String(64)),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name="fk_responses_activation_id_activations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_responses_provider", "responses", ["provider_id"])
    op.create_table(
        "opt_outs",
        sa.Column("address", sa.String(32), nullable=False),
        sa.Column("opted_out_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_opt_outs"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("service", sa.String(64)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("activation_id", _ID),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name="fk_alerts_activation_id_activations",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_alerts_dedup", "alerts", ["dedup_key"])


def downgrade() -> None:
    for table in ("alerts", "opt_outs", "responses", "activity_log", "deadlines", "outbox", "activations"):
        op.drop_table(table)
