"""Calendar job runs and contact review requests.

Revision ID: 0004_upkeep
Revises: 0003_engine
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_upkeep"
down_revision = "0003_engine"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("fire_at", _TS, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.UniqueConstraint("job", "fire_at", name="uq_scheduled_runs_job_fire"),
    )
    op.create_table(
        "review_requests",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("sent_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answered_at", _TS),
        sa.Column("answer", sa.Text),
        sa.Column("plan_version", sa.Integer),
    )
    op.create_index("ix_review_requests_address_status", "review_requests", ["address", "status"])
    op.create_index("ix_review_requests_person", "review_requests", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_review_requests_person", table_name="review_requests")
    op.drop_index("ix_review_requests_address_status", table_name="review_requests")
    op.drop_table("review_requests")
    op.drop_table("scheduled_runs")
