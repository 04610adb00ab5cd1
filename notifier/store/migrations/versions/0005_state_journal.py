"""The planner state's journal: one row per engine step with what it changed.

Revision ID: 0005_state_journal
Revises: 0004_upkeep
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_state_journal"
down_revision = "0004_upkeep"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activation_changes",
        sa.Column(
            "activation_id",
            sa.String(40),
            sa.ForeignKey("activations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("delta", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    # the journal holds steps not yet in activations.state: fold them in before dropping it
    conn = op.get_bind()
    changes = sa.table(
        "activation_changes", sa.column("activation_id"), sa.column("seq"), sa.column("delta", sa.JSON)
    )
    activations = sa.table("activations", sa.column("id"), sa.column("state", sa.JSON))
    from notifier.domain.statedelta import apply_delta

    ids = [r[0] for r in conn.execute(sa.select(changes.c.activation_id).distinct())]
    for activation_id in ids:
        state = conn.execute(sa.select(activations.c.state).where(activations.c.id == activation_id)).scalar()
        document = dict(state or {})
        query = (
            sa.select(changes.c.delta).where(changes.c.activation_id == activation_id).order_by(changes.c.seq)
        )
        for (delta,) in conn.execute(query):
            apply_delta(document, delta)
        conn.execute(sa.update(activations).where(activations.c.id == activation_id).values(state=document))
    op.drop_table("activation_changes")
