"""Table definitions of the plan store, on the one `MetaData` every store module shares.

Other modules (the engine, the API) define their tables against `metadata` too, so that Alembic's
autogenerate and test helpers see the whole schema. The naming convention gives every constraint
a stable name: Alembic's batch mode on SQLite and later migrations need to refer to them by name.
Migrations never call `metadata.create_all`: each revision spells out its own tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("digest", String(64), nullable=False),
    # Plain JSON (not JSONB): PostgreSQL keeps the text as written, so key order survives export.
    Column("content", JSON, nullable=False),
)

plan_changes = Table(
    "plan_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "version_id",
        Integer,
        ForeignKey("plan_versions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("field", Text, nullable=False),
    Column("old", JSON, nullable=True),
    Column("new", JSON, nullable=True),
)
