"""Plan versions and the record of changes (NIST SP 800-34 §3.6, Table 3-7).

Every import that changes anything becomes a new numbered version holding the whole plan in its
canonical JSON form (`Plan.model_dump(mode="json")`), plus one row per change found by
`diff_plans`. An import identical to the latest version writes nothing, so re-running an import
(from a timer, a deploy script) is harmless. Export renders the same canonical form, which is why
export -> import gives back an equal plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from notifier.clock import Clock, RealClock
from notifier.domain.plan import Plan
from notifier.domain.plandiff import Change, ChangeKind, EntityKind, diff_plans
from notifier.store.tables import plan_changes, plan_versions

ExportFormat = Literal["yaml", "json"]
_IMPORT_ATTEMPTS = 3


def canonical_content(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(mode="json")


def plan_digest(plan: Plan) -> str:
    """sha256 of the canonical JSON, with sorted keys so that it does not depend on key order."""
    return _content_digest(canonical_content(plan))


def _content_digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def dump_plan(plan: Plan, fmt: ExportFormat = "yaml") -> str:
    """The plan as a file `notifier plan import` reads back to an equal plan."""
    content = canonical_content(plan)
    if fmt == "json":
        return json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(content, Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=100)


class _PlanDumper(yaml.SafeDumper):
    """SafeDumper that double-quotes strings holding Unicode line breaks (NEL, LS, PS).

    PyYAML writes those raw in plain or single-quoted scalars and then reads them back as line
    folds (a space), so a name containing U+0085 would change on export -> import. Double quotes
    escape them.
    """


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PlanDumper.add_representer(str, _represent_str)


@dataclass(frozen=True)
class ImportResult:
    version: int | None  # None: identical to the latest version, nothing written
    changes: list[Change]


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    author: str
    comment: str
    digest: str
    change_count: int


class VersionNotFound(LookupError):
    def __init__(self, version: int) -> None:
        super().__init__(f"plan version {version} does not exist")
        self.version = version


class PlanStore:
    """Repository of plan versions. Each method is one transaction of its own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or RealClock()

    async def import_plan(self, plan: Plan, author: str, comment: str = "") -> ImportResult:
        """Store `plan` as the next version unless it equals the latest one."""
        for attempt in range(_IMPORT_ATTEMPTS):
            try:
                return await self._import_once(plan, author, comment)
            except IntegrityError:
                # Another importer took the same version number first; diff against its version.
                if attempt == _IMPORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _import_once(self, plan: Plan, author: str, comment: str) -> ImportResult:
        content = canonical_content(plan)  # once: 150,000 dicts for a 50,000-person plan
        digest = _content_digest(content)
        async with self._sessions.begin() as session:
            latest = (
                await session.execute(
                    select(plan_versions.c.version, plan_versions.c.digest, plan_versions.c.content)
                    .order_by(plan_versions.c.version.desc())
                    .limit(1)
                )
            ).first()
            if latest is not None and latest.digest == digest:
                return ImportResult(None, [])
            previous = Plan.model_validate(latest.content) if latest is not None else None
            changes = diff_plans(previous, plan)
            version = latest.version + 1 if latest is not None else 1
            version_id = (
                await session.execute(  # as parameters: a value in .values() stays in the statement cache
                    plan_versions.insert().returning(plan_versions.c.id),
                    {
                        "version": version,
                        "created_at": self._clock.now(),
                        "author": author,
                        "comment": comment,
                        "digest": digest,
                        "content": content,
                    },
                )
            ).scalar_one()
            if changes:
                await session.execute(
                    plan_changes.insert(), [_change_row(version_id, i, c) for i, c in enumerate(changes)]
                )
            return ImportResult(version, changes)

    async def latest(self) -> tuple[int, Plan] | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(plan_versions.c.version, plan_versions.c.content)
                    .order_by(plan_versions.c.version.desc())
                    .limit(1)
                )
            ).first()
        return (row.version, Plan.model_validate(row.content)) if row is not None else None

    async def get(self, version: int) -> Plan:
        async with self._sessions() as session:
            content = (
                await session.execute(
                    select(plan_versions.c.content).where(plan_versions.c.version == version)
                )
            ).scalar_one_or_none()
        if content is None:
            raise VersionNotFound(version)
        return Plan.model_validate(content)

    async def versions(self) -> list[VersionInfo]:
        """All versions, oldest first, with the number of changes each recorded."""
        counts = (
            select(plan_changes.c.version_id, func.count().label("n"))
            .group_by(plan_changes.c.version_id)
            .subquery()
        )
        query = (
            select(
                plan_versions.c.version,
                plan_versions.c.created_at,
                plan_versions.c.author,
                plan_versions.c.comment,
                plan_versions.c.digest,
                func.coalesce(counts.c.n, 0).label("n"),
            )
            .outerjoin(counts, counts.c.version_id == plan_versions.c.id)
            .order_by(plan_versions.c.version)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            VersionInfo(r.version, _aware(r.created_at), r.author, r.comment, r.digest, int(r.n))
            for r in rows
        ]

    async def changes(self, version: int) -> list[Change]:
        """The record of changes that made `version` out of the one before it."""
        async with self._sessions() as session:
            version_id = (
                await session.execute(select(plan_versions.c.id).where(plan_versions.c.version == version))
            ).scalar_one_or_none()
            if version_id is None:
                raise VersionNotFound(version)
            rows = (
                await session.execute(
                    select(plan_changes)
                    .where(plan_changes.c.version_id == version_id)
                    .order_by(plan_changes.c.seq)
                )
            ).all()
        return [
            Change(ChangeKind(r.kind), EntityKind(r.entity), r.entity_id, r.field, r.old, r.new) for r in rows
        ]


def _change_row(version_id: int, seq: int, change: Change) -> dict[str, Any]:
    return {
        "version_id": version_id,
        "seq": seq,
        "kind": change.kind.value,
        "entity": change.entity.value,
        "entity_id": change.entity_id,
        "field": change.field,
        "old": change.old,
        "new": change.new,
    }


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__: Sequence[str] = (
    "ExportFormat",
    "ImportResult",
    "PlanStore",
    "VersionInfo",
    "VersionNotFound",
    "canonical_content",
    "dump_plan",
    "plan_digest",
)


# --- read-only look-ups for reports (on the report's own connection) -----------------------------


async def person_fixes_since(conn: AsyncConnection, since: datetime) -> dict[str, int]:
    """Person id -> the first plan version after `since` that changed or removed that person's entry:
    the plan change that answers an after-action report's corrective action about their contact data."""
    query = (
        select(plan_changes.c.entity_id, func.min(plan_versions.c.version).label("version"))
        .join(plan_versions, plan_versions.c.id == plan_changes.c.version_id)
        .where(
            plan_versions.c.created_at > since,
            plan_changes.c.entity == EntityKind.PERSON.value,
            plan_changes.c.kind != ChangeKind.ADDED.value,  # a first import adds everyone: not a fix
        )
        .group_by(plan_changes.c.entity_id)
    )
    return {row.entity_id: int(row.version) for row in (await conn.execute(query)).all()}


async def latest_plan(conn: AsyncConnection) -> Plan | None:
    """The newest stored plan version, or None before the first import."""
    query = select(plan_versions.c.content).order_by(plan_versions.c.version.desc()).limit(1)
    content = (await conn.execute(query)).scalar_one_or_none()
    return Plan.model_validate(content) if content is not None else None
