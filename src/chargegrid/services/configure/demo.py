"""``chargegrid serve --demo``: a small, realistic site, seeded idempotently.

A 63 A main fuse; two 3-phase circuits wired with different rotations; 1- and
3-phase chargers, some single-phase connectors landing on L2 or L3, so the load
manager's phase awareness shows. Fixed ids (uuid5) let the simulator find them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.models import Charger, Circuit, Connector, Evse, IdTag, Site
from chargegrid.store.uow import UnitOfWork

_NS = uuid.UUID("6f1c1f3e-6d0c-4a53-9f0e-3c3f0a8b2d11")


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NS, name)


DEMO_SITE_ID = demo_id("site")


@dataclass(frozen=True)
class DemoCharger:
    ocpp_id: str
    circuit: str
    power_type: str
    rotation: str
    max_amperage: int
    ocpp_version: str = "1.6"  # what its simulated charger speaks (a mixed fleet)

    @property
    def phases(self) -> int:
        return 1 if self.power_type == "AC_1_PHASE" else 3


DEMO_CIRCUITS = (("Garage row A", 32.0, "RST"), ("Garage row B", 25.0, "STR"))
DEMO_CHARGERS = (
    DemoCharger("CG-DEMO-01", "Garage row A", "AC_3_PHASE", "RST", 32, "2.0.1"),
    DemoCharger("CG-DEMO-02", "Garage row A", "AC_1_PHASE", "S", 32),
    DemoCharger("CG-DEMO-03", "Garage row B", "AC_3_PHASE", "RST", 16),
    DemoCharger("CG-DEMO-04", "Garage row B", "AC_1_PHASE", "T", 32, "2.0.1"),
)
# Two tags per demo connector: the simulated cars take the least recently used free one,
# so no tag ever charges twice at once (a CSMS answers that ConcurrentTx).
DEMO_ID_TAGS = (
    *((f"DEMO-TAG-{n}", "Accepted") for n in range(1, 2 * len(DEMO_CHARGERS) + 1)),
    ("DEMO-BLOCKED", "Blocked"),
)


async def seed_demo(db: Database) -> str:
    """Create the demo site unless it exists; return a new admin token either way."""
    async with UnitOfWork(db) as uow:
        if await uow.sites.get(DEMO_SITE_ID) is None:
            await _add_site(uow)
        await _add_missing_tags(uow)  # a demo seeded by an older version had fewer
        await uow.commit()
    async with UnitOfWork(db) as uow:
        return await create_token(uow, Role.ADMIN, name="demo admin")


async def _add_site(uow: UnitOfWork) -> None:
    # Flushed level by level: rows are linked by foreign keys, not ORM relationships.
    session = uow.session
    session.add(Site(id=DEMO_SITE_ID, name="Demo garage", max_current=63.0))
    for name, max_current, rotation in DEMO_CIRCUITS:
        session.add(
            Circuit(
                id=demo_id(name),
                site_id=DEMO_SITE_ID,
                name=name,
                max_current=max_current,
                phases=3,
                phase_rotation=rotation,
            )
        )
    await session.flush()
    for spec in DEMO_CHARGERS:
        charger_id = demo_id(spec.ocpp_id)
        evse_id = demo_id(spec.ocpp_id + "/1")
        session.add(
            Charger(
                id=charger_id,
                site_id=DEMO_SITE_ID,
                circuit_id=demo_id(spec.circuit),
                ocpp_id=spec.ocpp_id,
                max_charge_phases=spec.phases,
                vendor="chargegrid",
                model="Simulated AC " + ("1p" if spec.phases == 1 else "3p"),
            )
        )
        await session.flush()
        session.add(
            Evse(
                id=evse_id,
                charger_id=charger_id,
                evse_number=1,
                evse_id=f"DK*CGD*E{spec.ocpp_id[-2:]}",
            )
        )
        await session.flush()
        session.add(
            Connector(
                id=demo_id(spec.ocpp_id + "/1/1"),
                evse_id=evse_id,
                charger_id=charger_id,
                connector_id=1,
                standard="IEC_62196_T2",
                format="SOCKET",
                power_type=spec.power_type,
                max_amperage=spec.max_amperage,
                max_electric_power=230.0 * spec.max_amperage * spec.phases,
                phase_rotation=spec.rotation,
            )
        )


async def _add_missing_tags(uow: UnitOfWork) -> None:
    names = [tag for tag, _ in DEMO_ID_TAGS]
    found = await uow.session.scalars(select(IdTag.id_tag).where(IdTag.id_tag.in_(names)))
    present = set(found)
    for tag, status in DEMO_ID_TAGS:
        if tag not in present:
            uow.session.add(IdTag(id=demo_id("tag/" + tag), id_tag=tag, status=status))
