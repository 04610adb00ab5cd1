"""Every outbound message goes through the outbox; each row records the provider that sent it.

Review requests, drill heads-ups, report emails (no activation) and informed-channel posts (not a
person's attempt) are outbox rows too, so the rate limits, the in-flight window and the opt-out
check apply to them: `activation_id` may be empty, and `tracked` is 0 for rows whose outcome no
planner waits for. `provider` names the provider of the failover chain that answered.

Revision ID: 0009_outbox_everything
Revises: 0008_incidents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_outbox_everything"
down_revision = "0008_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("activation_id", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("provider", sa.String(32)))


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE activation_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("provider")
        batch.alter_column("activation_id", existing_type=sa.String(40), nullable=False)
