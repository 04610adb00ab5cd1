"""Tables of the calendar jobs and plan upkeep: job runs and contact review requests.

`scheduled_runs` has one row per (job, fire time), written before the job runs: the unique key is
what makes a drill run once even if the leader changes, or a restart lands inside the misfire
grace. `review_requests` remembers which contacts were asked to confirm their details, so that a
reply can be matched to the request and nobody is asked again every day.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from notifier.store.tables import metadata

_TS = DateTime(timezone=True)
_BIGID = BigInteger().with_variant(Integer, "sqlite")

scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("job", String(200), nullable=False),
    Column("fire_at", _TS, nullable=False),
    Column("started_at", _TS, nullable=False),
    Column("instance", String(64), nullable=False),
    Column("outcome", Text, nullable=False, default=""),
    UniqueConstraint("job", "fire_at", name="uq_scheduled_runs_job_fire"),
)

review_requests = Table(
    "review_requests",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("person_id", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("address", String(320), nullable=False),
    Column("sent_at", _TS, nullable=False),
    Column("status", String(16), nullable=False),  # open | confirmed | changed
    Column("answered_at", _TS),
    Column("answer", Text),
    Column("plan_version", Integer),
    Index("ix_review_requests_address_status", "address", "status"),
    Index("ix_review_requests_person", "person_id"),
)
