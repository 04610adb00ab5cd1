"""Which call trees were drilled, and when: what `plan check` counts as each tree's last test.

NIST SP 800-34 Rev.1's plan approval records that the plan was "last tested on {date}"; the daemon
knows that date from its own drills, so nobody has to copy it into the plan file by hand.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.clock import as_utc
from notifier.store.engine_tables import activations


async def last_drills(conn: AsyncConnection) -> dict[str, date]:
    """Call-tree id -> the day (UTC) its latest completed drill started."""
    query = (
        select(activations.c.tree_id, func.max(activations.c.started_at).label("started_at"))
        .where(activations.c.kind == "drill", activations.c.completed_at.is_not(None))
        .group_by(activations.c.tree_id)
    )
    found: dict[str, date] = {}
    for row in (await conn.execute(query)).all():
        started = as_utc(row.started_at)
        if started is not None:
            found[row.tree_id] = started.date()
    return found
