"""Alembic environment: runs on the connection `notifier.store.db` hands over, or opens its own.

`notifier db upgrade` and the tests pass an open connection in `config.attributes["connection"]`;
the `alembic` command line (for writing new revisions) passes nothing and we connect to the URL
from the config or the daemon settings. SQLite needs batch mode to alter tables.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import notifier.store.tables as tables

config = context.config
target_metadata = tables.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    from notifier.settings import Settings
    from notifier.store.db import make_engine

    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run: notifier db upgrade")

given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_with_own_engine())
