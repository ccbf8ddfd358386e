"""Connectors learn their wiring from the charger's ConnectorPhaseRotation unless an
operator set it (docs/ocpp.md "After each boot"), in the OCPP store (SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from chargegrid.services.charger_ports import ChargerRecord, ConfigWrite, StatusWrite
from chargegrid.store.charger_store import SqlChargerStore, connectors, evses
from chargegrid.store.db import Database

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def seen(charger: ChargerRecord, *numbers: int) -> list[StatusWrite]:
    """The StatusNotifications of a charger's first boot: each connector Available."""
    return [
        StatusWrite(charger.id, n, "Available", None, None, None, None, T0 + timedelta(seconds=n))
        for n in numbers
    ]


def reported(charger: ChargerRecord, rotation: str) -> ConfigWrite:
    return ConfigWrite(charger.id, config_sync="applied", connector_phase_rotation=rotation)


async def wiring(db: Database, charger: ChargerRecord) -> dict[int, tuple[str, str, str]]:
    """connector id -> (power_type, phase_rotation, wiring_source)."""
    query = select(
        connectors.c.connector_id,
        connectors.c.power_type,
        connectors.c.phase_rotation,
        connectors.c.wiring_source,
    ).where(connectors.c.charger_id == charger.id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {r.connector_id: (r.power_type, r.phase_rotation, r.wiring_source) for r in rows}


async def new_store(db: Database, ocpp_id: str) -> tuple[SqlChargerStore, ChargerRecord]:
    store = SqlChargerStore(db.engine)
    return store, await store.register(ocpp_id)


async def test_connectors_seen_before_the_configuration_take_the_reported_wiring(
    db: Database,
) -> None:
    store, cp = await new_store(db, "CP-W")
    try:
        await store.apply(seen(cp, 1, 2, 3))
        assert await wiring(db, cp) == {n: ("AC_3_PHASE", "RST", "default") for n in (1, 2, 3)}
        # Connector 3 listed as unknown: not connector 0's value, nothing learnt.
        await store.apply([reported(cp, "0.TRS,1.S,3.Unknown")])
        assert await wiring(db, cp) == {
            1: ("AC_1_PHASE", "S", "charger"),
            2: ("AC_3_PHASE", "TRS", "charger"),
            3: ("AC_3_PHASE", "RST", "default"),
        }
        # Statuses of known (cached) connectors leave the learnt wiring alone.
        await store.apply(seen(cp, 1, 2))
        assert (await wiring(db, cp))[1] == ("AC_1_PHASE", "S", "charger")
        # A charger rewired since: learnt again. Junk or Unknown changes nothing.
        await store.apply([reported(cp, "1.RT,2.Unknown,3.bogus")])
        await store.apply([reported(cp, "Unknown")])
        assert await wiring(db, cp) == {
            1: ("AC_2_PHASE", "RT", "charger"),
            2: ("AC_3_PHASE", "TRS", "charger"),
            3: ("AC_3_PHASE", "RST", "default"),
        }
    finally:
        await store.close()


async def test_a_connector_first_seen_after_the_configuration_is_created_with_it(
    db: Database,
) -> None:
    store, cp = await new_store(db, "CP-N")
    try:
        # The same batch: the configuration first, then the status of a new connector.
        await store.apply([reported(cp, "1.S,2.TSR"), *seen(cp, 1)])
        await store.apply(seen(cp, 2, 3))
        assert await wiring(db, cp) == {
            1: ("AC_1_PHASE", "S", "charger"),
            2: ("AC_3_PHASE", "TSR", "charger"),
            3: ("AC_3_PHASE", "RST", "default"),  # not reported
        }
    finally:
        await store.close()


async def test_an_operators_wiring_is_never_touched_and_a_mismatch_is_logged(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store, cp = await new_store(db, "CP-OP")
    try:
        async with db.engine.begin() as conn:
            for number, power_type, rotation in ((1, "AC_3_PHASE", "STR"), (2, "DC", "RST")):
                evse_pk = uuid.uuid4()
                await conn.execute(
                    insert(evses).values(id=evse_pk, charger_id=cp.id, evse_number=number)
                )
                # No wiring_source given: a row nobody marked counts as the operator's.
                await conn.execute(
                    insert(connectors).values(
                        id=uuid.uuid4(),
                        evse_id=evse_pk,
                        charger_id=cp.id,
                        connector_id=number,
                        power_type=power_type,
                        phase_rotation=rotation,
                    )
                )
        before = await wiring(db, cp)
        assert before == {
            1: ("AC_3_PHASE", "STR", "operator"),
            2: ("DC", "RST", "operator"),
        }
        await store.apply(seen(cp, 1, 2))
        with caplog.at_level(logging.WARNING, logger="chargegrid.store.charger_store"):
            await store.apply([reported(cp, "0.RST,1.S")])
        assert await wiring(db, cp) == before
        # Connector 1: 1 phase reported on a 3-phase connector; connector 2 (DC, the
        # 3-phase RST of connector 0) fits and is not worth a warning.
        (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert "CP-OP" in warning.getMessage() and "connector 1 as S" in warning.getMessage()
    finally:
        await store.close()
