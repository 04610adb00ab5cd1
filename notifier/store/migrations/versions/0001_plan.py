"""Plan versions and the record of changes.

Revision ID: 0001_plan
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_plan"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("version", name="uq_plan_versions_version"),
    )
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("old", sa.JSON, nullable=True),
        sa.Column("new", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_changes"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["plan_versions.id"],
            name="fk_plan_changes_version_id_plan_versions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_plan_changes_version_id", "plan_changes", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_changes_version_id", table_name="plan_changes")
    op.drop_table("plan_changes")
    op.drop_table("plan_versions")
