"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from chargegrid.store.db import Database
from chargegrid.store.migrate import current_revision, upgrade
from chargegrid.store.schema import target_metadata


async def test_models_and_migrations_agree(db: Database) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target_metadata()))

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_upgrade_is_idempotent(db: Database) -> None:
    before = await current_revision(db.engine)
    await upgrade(db.engine)
    assert before is not None and await current_revision(db.engine) == before
