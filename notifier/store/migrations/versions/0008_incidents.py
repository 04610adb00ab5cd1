"""Observable alert intake and incident keys: every alert's outcome in words and as a code, the
incident key it belongs to, the incidents themselves and the PagerDuty integration keys.

Older rows kept free text in `alerts.outcome` ("routed to X", "duplicate", "unrouted",
"resolved (no open activation)"); it becomes one of the outcome codes, the text moves to `detail`.

Revision ID: 0008_incidents
Revises: 0007_webhook_receipts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_incidents"
down_revision = "0007_webhook_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("detail", sa.Text))
        batch.add_column(sa.Column("route", sa.String(64)))
        batch.add_column(sa.Column("incident_key", sa.String(320)))
        batch.add_column(sa.Column("severity", sa.String(32)))
    op.execute("UPDATE alerts SET detail = outcome")
    op.execute(
        "UPDATE alerts SET outcome = CASE "
        "WHEN outcome = 'duplicate' THEN 'duplicate' "
        "WHEN outcome LIKE 'resolved%' THEN 'resolved' "
        "WHEN activation_id IS NOT NULL THEN 'started' "
        "ELSE 'unrouted' END"
    )
    op.create_index("ix_alerts_received", "alerts", ["received_at"])
    op.create_index("ix_alerts_incident", "alerts", ["incident_key"])
    op.create_table(
        "incidents",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("activation_id", sa.String(40), sa.ForeignKey("activations.id", ondelete="SET NULL")),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_update_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "incident_alerts",
        sa.Column("incident_key", sa.String(320), primary_key=True),
        sa.Column("dedup_key", sa.String(320), primary_key=True),
        sa.Column("firing", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incident_alerts_dedup", "incident_alerts", ["dedup_key"])
    op.create_table(
        "integration_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("route", sa.String(64)),
        sa.Column("calltree", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("integration_keys")
    op.drop_index("ix_incident_alerts_dedup", table_name="incident_alerts")
    op.drop_table("incident_alerts")
    op.drop_table("incidents")
    op.drop_index("ix_alerts_incident", table_name="alerts")
    op.drop_index("ix_alerts_received", table_name="alerts")
    op.execute("UPDATE alerts SET outcome = COALESCE(detail, outcome)")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("severity")
        batch.drop_column("incident_key")
        batch.drop_column("route")
        batch.drop_column("detail")
