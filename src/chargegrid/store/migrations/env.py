"""Alembic environment: runs migrations on an async engine (SQLite or PostgreSQL).

The application passes its own connection in ``config.attributes["connection"]``;
the plain ``alembic`` command falls back to ``sqlalchemy.url`` / CHARGEGRID_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from chargegrid.store.db import create_engine
from chargegrid.store.schema import target_metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        # SQLite cannot ALTER most things in place; batch mode recreates the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
else:
    url = os.environ.get("CHARGEGRID_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    assert url, "no database url"
    asyncio.run(_run_with_own_engine(url))
