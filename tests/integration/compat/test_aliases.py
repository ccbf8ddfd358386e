"""Stable integer aliases (ocpp_0013): every site, circuit, charger, EVSE and connector
gets one from the database as it is inserted, existing rows get theirs in the migration,
concurrent writers never share a number, a deleted thing's number is never reused, and
``compat.ids.resolve`` takes either form."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Boolean, Uuid, column, insert, table, text
from sqlalchemy.engine import Connection

from chargegrid.compat.ids import AliasKind, alias, aliases, resolve
from chargegrid.domain.errors import NotFound
from chargegrid.store.db import Database
from chargegrid.store.migrate import alembic_config, upgrade
from chargegrid.store.models import Site
from chargegrid.store.types import UtcDateTime
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api


async def _tree(api: Api) -> dict[str, Any]:
    site = await api.site()
    circuit = await api.circuit(site["id"])
    charger = await api.charger(site["id"], circuit_id=circuit["id"])
    evse = await api.evse(charger["id"])
    return {
        AliasKind.SITE: uuid.UUID(site["id"]),
        AliasKind.CIRCUIT: uuid.UUID(circuit["id"]),
        AliasKind.CHARGER: uuid.UUID(charger["id"]),
        AliasKind.EVSE: uuid.UUID(evse["id"]),
        AliasKind.CONNECTOR: uuid.UUID(evse["connectors"][0]["id"]),
    }


async def test_every_new_thing_gets_an_alias_that_resolves_both_ways(api: Api) -> None:
    ids = await _tree(api)
    async with UnitOfWork(api.db) as uow:
        numbers = {kind: await alias(uow, kind, entity_id) for kind, entity_id in ids.items()}
        assert len(set(numbers.values())) == len(numbers)  # one sequence: never shared
        for kind, entity_id in ids.items():
            assert await resolve(uow, kind, str(numbers[kind])) == entity_id
            assert await resolve(uow, kind, str(entity_id)) == entity_id  # a UUID as it is
        # An alias names one kind: a charger's number is no EVSE.
        with pytest.raises(NotFound, match="no such evse"):
            await resolve(uow, AliasKind.EVSE, str(numbers[AliasKind.CHARGER]))
        for junk in ("0", "99999999", "12345678901234567890", "abc", "", "-1"):
            with pytest.raises(NotFound):
                await resolve(uow, AliasKind.SITE, junk)


async def test_a_deleted_things_number_is_never_handed_out_again(api: Api) -> None:
    first = await api.site(name="first")
    async with UnitOfWork(api.db) as uow:
        first_alias = await alias(uow, AliasKind.SITE, uuid.UUID(first["id"]))
    await api.ok("DELETE", f"/sites/{first['id']}")
    second = await api.site(name="second")
    async with UnitOfWork(api.db) as uow:
        assert await alias(uow, AliasKind.SITE, uuid.UUID(second["id"])) > first_alias
        with pytest.raises(NotFound):  # the old number names nothing now
            await _load_site(uow, await resolve(uow, AliasKind.SITE, str(first_alias)))


async def _load_site(uow: UnitOfWork, site_id: uuid.UUID) -> Site:
    site = await uow.sites.get(site_id)
    if site is None:
        raise NotFound("no such site")
    return site


async def test_concurrent_writers_never_draw_the_same_number(api: Api) -> None:
    # Two open transactions that both inserted before either committed (PostgreSQL lets
    # them overlap; SQLite's single writer makes the second wait for the first).
    if api.db.url.startswith("sqlite"):
        sites = await asyncio.gather(*(api.site(name=f"s{i}") for i in range(8)))
        ids = [uuid.UUID(s["id"]) for s in sites]
    else:
        async with UnitOfWork(api.db) as one, UnitOfWork(api.db) as two:
            ids = []
            for uow in (one, two, one, two):
                site = Site(id=uuid.uuid4(), name="raced", max_current=32.0)
                uow.sites.add(site)
                await uow.session.flush()  # the trigger draws the number here
                ids.append(site.id)
            await one.commit()
            await two.commit()
    async with UnitOfWork(api.db) as uow:
        numbers = await aliases(uow, AliasKind.SITE, ids)
    assert set(numbers) == set(ids) and len(set(numbers.values())) == len(ids)


async def test_the_migration_gives_existing_rows_aliases_oldest_first(db: Database) -> None:
    def down(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "ocpp_0012")

    async with db.engine.begin() as connection:
        await connection.run_sync(down)
        # The columns ocpp_0012 has, typed, so both drivers bind the same way.
        sites = table(
            "sites",
            *(column(name) for name in ("name", "timezone", "network_type")),
            *(column(name) for name in ("nominal_voltage", "max_current")),
            column("id", Uuid()),
            column("offline_limit_to_min_current", Boolean()),
            column("created_at", UtcDateTime()),
            column("updated_at", UtcDateTime()),
        )
        for name, month in (("newer", 2), ("older", 1)):
            at = datetime(2026, month, 1, tzinfo=UTC)
            await connection.execute(
                insert(sites).values(
                    id=uuid.uuid4(),
                    name=name,
                    timezone="UTC",
                    network_type="TN",
                    nominal_voltage=230.0,
                    max_current=63.0,
                    offline_limit_to_min_current=False,
                    created_at=at,
                    updated_at=at,
                )
            )
    await upgrade(db.engine)
    async with UnitOfWork(db) as uow:
        rows = (await uow.session.execute(text("SELECT id, name FROM sites"))).all()
        by_name = {row.name: uuid.UUID(str(row.id)) for row in rows}
        numbers = await aliases(uow, AliasKind.SITE, by_name.values())
    assert numbers[by_name["older"]] < numbers[by_name["newer"]]
