"""EVSEs and their connectors (AMPECO/Spirii EVSE, Plugchoice/Spirii connector update)."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.connectors import PowerType, WiringSource, check_rotation_fits
from chargegrid.domain.errors import Conflict, FieldError, InvalidValue
from chargegrid.domain.identifiers import check_evse_id
from chargegrid.domain.phases import PhaseRotation
from chargegrid.services.configure.chargers import add_charger, get_charger
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import Charger, Connector, Evse

EVSE_OPERATIONAL = {"enabled": True, "physical_reference": None}
EVSE_TECHNICAL = {"evse_number": REQUIRED, "evse_id": None}
CONNECTOR_FIELDS = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230.0,
    "max_amperage": 32,
    "max_electric_power": None,
    "phase_rotation": None,  # null: straight-through for the power type
    "line_to_line": False,
}
# Set by an operator, these are no longer learnt from the charger (wiring_source).
WIRING_FIELDS = frozenset({"power_type", "phase_rotation", "line_to_line"})


async def get_evse(ctx: ConfigContext, evse_id: uuid.UUID) -> Evse:
    evse = found(await ctx.uow.evses.get(evse_id), "EVSE")
    ctx.who.check_site(evse.charger.site_id, "EVSE")
    return evse


async def create_evse(ctx: ConfigContext, charger_id: uuid.UUID, data: dict[str, Any]) -> Evse:
    charger = await get_charger(ctx, charger_id)
    evse = await add_evse(ctx, charger, data)
    await ctx.commit()
    await ctx.uow.session.refresh(evse, ["connectors"])
    return evse


async def add_evse(
    ctx: ConfigContext, charger: Charger, data: dict[str, Any], prefix: str = ""
) -> Evse:
    """Validate and add an EVSE with its connectors; the caller commits. ``prefix`` is
    where the EVSE sits in the request body, so errors name e.g. ``evses[1].evse_id``."""
    ctx.who.require_technical("EVSEs")
    if data.get("evse_number") is None:
        raise InvalidValue.of(prefix + "evse_number", "required")
    evse = Evse(id=uuid.uuid4(), charger_id=charger.id, evse_number=data["evse_number"])
    assign(
        evse,
        with_defaults(data, EVSE_OPERATIONAL | EVSE_TECHNICAL),
        EVSE_OPERATIONAL | EVSE_TECHNICAL,
    )
    try:
        await _check_evse(ctx, evse, data)
    except InvalidValue as exc:
        raise InvalidValue([FieldError(prefix + e.field, e.message) for e in exc.errors]) from exc
    ctx.uow.evses.add(evse)
    await ctx.uow.evses.flush()
    for index, connector_data in enumerate(data.get("connectors") or []):
        await _add_connector(ctx, evse, connector_data, f"{prefix}connectors[{index}].")
    ctx.changed("evse", evse.id, charger.site_id, "created", data)
    return evse


async def create_charger_with_evses(ctx: ConfigContext, data: dict[str, Any]) -> Charger:
    """``POST /chargers`` with its EVSEs in one transaction. ``connectors`` is the
    OCPP 1.6 shape: one EVSE per connector, numbered like it."""
    evses = list(data.pop("evses", None) or [])
    for connector in data.pop("connectors", None) or []:
        evses.append({"evse_number": connector.get("connector_id"), "connectors": [connector]})
    charger = await add_charger(ctx, data)
    for index, evse_data in enumerate(evses):
        await add_evse(ctx, charger, evse_data, f"evses[{index}].")
    await ctx.commit()
    ctx.uow.session.expunge_all()  # reload with EVSEs and connectors
    return await get_charger(ctx, charger.id)


async def update_evse(ctx: ConfigContext, evse_id: uuid.UUID, data: dict[str, Any]) -> Evse:
    evse = await get_evse(ctx, evse_id)
    ctx.who.require_write()
    technical = [k for k in EVSE_TECHNICAL if k in data]
    if technical:
        ctx.who.require_technical(", ".join(technical))
    changed = assign(evse, data, EVSE_OPERATIONAL | EVSE_TECHNICAL)
    # Checked before anything is flushed: a taken evse_number is the 409 that says so,
    # not a unique-key error from an autoflush.
    with ctx.uow.session.no_autoflush:
        await _check_evse(ctx, evse, data)
    await ctx.commit_update("evse", evse.id, evse.charger.site_id, changed)
    return evse


async def delete_evse(ctx: ConfigContext, evse_id: uuid.UUID) -> None:
    evse = await get_evse(ctx, evse_id)
    ctx.who.require_technical("deleting an EVSE")
    await ctx.uow.evses.delete(evse)
    ctx.changed("evse", evse_id, evse.charger.site_id, "deleted")
    await ctx.commit()


async def create_connector(
    ctx: ConfigContext, evse_id: uuid.UUID, data: dict[str, Any]
) -> Connector:
    evse = await get_evse(ctx, evse_id)
    ctx.who.require_technical("connectors")
    connector = await _add_connector(ctx, evse, data, "")
    ctx.changed("connector", connector.id, evse.charger.site_id, "created", data)
    await ctx.commit()
    return connector


async def update_connector_on_evse(
    ctx: ConfigContext, evse_id: uuid.UUID, connector_id: int, data: dict[str, Any]
) -> Connector:
    evse = await get_evse(ctx, evse_id)
    connector = found(await ctx.uow.connectors.by_evse(evse.id, connector_id), "connector")
    return await _update_connector(ctx, connector, evse.charger.site_id, data)


async def get_connector_on_charger(
    ctx: ConfigContext, charger_id: uuid.UUID, connector_id: int
) -> tuple[Charger, Connector]:
    """A charger's connector by its OCPP connector id (Plugchoice's address), with the
    charger; NotFound for either unknown or outside the caller's sites."""
    charger = await get_charger(ctx, charger_id)
    connector = found(await ctx.uow.connectors.by_charger(charger.id, connector_id), "connector")
    return charger, connector


async def update_connector_on_charger(
    ctx: ConfigContext, charger_id: uuid.UUID, connector_id: int, data: dict[str, Any]
) -> Connector:
    charger, connector = await get_connector_on_charger(ctx, charger_id, connector_id)
    return await _update_connector(ctx, connector, charger.site_id, data)


async def _update_connector(
    ctx: ConfigContext, connector: Connector, site_id: uuid.UUID | None, data: dict[str, Any]
) -> Connector:
    ctx.who.require_technical("connector wiring and ratings")
    if "power_type" in data and "phase_rotation" not in data:
        old = PowerType(connector.power_type)
        if connector.phase_rotation == str(PhaseRotation.identity(old.phase_count)):
            # A straight-through rotation follows the new power type.
            data = {**data, "phase_rotation": None}
    changed = assign(connector, data, CONNECTOR_FIELDS)
    if WIRING_FIELDS & data.keys() and connector.wiring_source != WiringSource.OPERATOR:
        # Said by an operator, even where it matches what the charger reported: from
        # now on the charger's reports no longer change it.
        connector.wiring_source = WiringSource.OPERATOR.value
        changed.add("wiring_source")
    _check_connector(connector, "")
    await ctx.commit_update("connector", connector.id, site_id, changed)
    return connector


async def _add_connector(
    ctx: ConfigContext, evse: Evse, data: dict[str, Any], prefix: str
) -> Connector:
    if data.get("connector_id") is None:
        raise InvalidValue.of(prefix + "connector_id", "required")
    connector = Connector(
        id=uuid.uuid4(),
        evse_id=evse.id,
        charger_id=evse.charger_id,
        connector_id=data["connector_id"],
        phase_rotation=None,
        wiring_source=WiringSource.OPERATOR.value,
    )
    assign(connector, {k: v for k, v in data.items() if v is not None}, CONNECTOR_FIELDS)
    for name, default in CONNECTOR_FIELDS.items():
        if getattr(connector, name) is None and name != "phase_rotation":
            setattr(connector, name, default)
    _check_connector(connector, prefix)
    if await ctx.uow.connectors.by_charger(evse.charger_id, connector.connector_id):
        raise Conflict(f"connector {connector.connector_id} exists on this charger already")
    ctx.uow.connectors.add(connector)
    await ctx.uow.connectors.flush()
    return connector


def _check_connector(connector: Connector, prefix: str) -> None:
    power_type = PowerType(connector.power_type)
    if connector.phase_rotation is None:
        connector.phase_rotation = str(PhaseRotation.identity(power_type.phase_count))
    try:
        check_rotation_fits(PhaseRotation.parse(connector.phase_rotation), power_type)
    except InvalidValue as exc:
        raise InvalidValue.of(prefix + "phase_rotation", exc.errors[0].message) from exc
    if connector.line_to_line and power_type is not PowerType.AC_2_PHASE:
        raise InvalidValue.of(
            prefix + "line_to_line",
            f"a charger between two lines has power_type AC_2_PHASE, not {power_type.value}",
        )


async def _check_evse(ctx: ConfigContext, evse: Evse, data: dict[str, Any]) -> None:
    if evse.evse_id is not None:
        check_evse_id(evse.evse_id)
    if "evse_number" in data:
        other = await ctx.uow.evses.by_number(evse.charger_id, evse.evse_number)
        if other is not None and other.id != evse.id:
            raise Conflict(f"EVSE {evse.evse_number} exists on this charger already")
