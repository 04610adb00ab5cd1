"""Activation documents apart from the activation row; outbox rows in claim order.

The snapshot and state JSON move from `activations` to `activation_documents`: every engine step
updates the activation row (status, revision), and SQLite rewrote the whole record, documents
included, each time (and walked them to read `revision`, stored after them). An index on
`outbox (status, id)` lets a claim take the oldest ready rows without sorting every pending one.

Revision ID: 0006_activation_documents
Revises: 0005_state_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_activation_documents"
down_revision = "0005_state_journal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activation_documents",
        sa.Column(
            "activation_id",
            sa.String(40),
            sa.ForeignKey("activations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
    )
    op.execute(
        "INSERT INTO activation_documents (activation_id, snapshot, state) "
        "SELECT id, snapshot, state FROM activations"
    )
    with op.batch_alter_table("activations") as batch:
        batch.drop_column("snapshot")
        batch.drop_column("state")
    op.create_index("ix_outbox_queue", "outbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_queue", table_name="outbox")
    with op.batch_alter_table("activations") as batch:
        batch.add_column(sa.Column("snapshot", sa.JSON, nullable=True))
        batch.add_column(sa.Column("state", sa.JSON, nullable=True))
    op.execute(
        "UPDATE activations SET "
        "snapshot = (SELECT d.snapshot FROM activation_documents d WHERE d.activation_id = activations.id), "
        "state = (SELECT d.state FROM activation_documents d WHERE d.activation_id = activations.id)"
    )
    op.drop_table("activation_documents")
