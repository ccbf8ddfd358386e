"""Chargers: identity, placement in the tree, and the settings pushed to them."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.errors import Conflict, InvalidValue
from chargegrid.domain.identifiers import check_ocpp_id
from chargegrid.services.auth import hash_password
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import Charger

# Zaptec lets owners change these (charger update needs "owner or service").
OPERATIONAL = {
    "max_charge_current": None,
    "min_charge_current": 6.0,
    "max_charge_phases": 3,
    "offline_charge_current": -1.0,
    "offline_charge_phase": 0,
    "meter_value_interval": 10,  # s; why in docs/ocpp.md "Meter values"
    "priority": 1.0,
}
TECHNICAL = {
    # What the hardware accepts (docs/load-manager.md "Allowed currents").
    "allowed_currents": None,
    "current_step": None,
    "ocpp_id": REQUIRED,
    "site_id": REQUIRED,
    "circuit_id": None,
    "registration_status": "Accepted",
    # The OCPP version the charger must speak; None: the best it offers (docs/ocpp.md).
    "ocpp_version_pin": None,
    # 1 Basic auth, 2 TLS + Basic auth, 3 client certificate (docs/security.md).
    "security_profile": 1,
}
# Settings the charger itself must apply: a change makes config_sync pending again.
PUSHED = frozenset({"meter_value_interval", "offline_charge_current", "offline_charge_phase"})
OFFLINE_CURRENT_MAX = 32.0


async def get_charger(ctx: ConfigContext, charger_id: uuid.UUID) -> Charger:
    charger = found(await ctx.uow.chargers.get(charger_id), "charger")
    ctx.who.check_site(charger.site_id, "charger")
    return charger


async def create_charger(ctx: ConfigContext, data: dict[str, Any]) -> Charger:
    charger = await add_charger(ctx, data)
    await ctx.commit()
    await ctx.uow.session.refresh(charger, ["evses"])
    return charger


async def add_charger(ctx: ConfigContext, data: dict[str, Any]) -> Charger:
    """Validate and add a new charger to the transaction; the caller commits."""
    ctx.who.require_technical("chargers")
    if data.get("ocpp_id") is None:
        raise InvalidValue.of("ocpp_id", "required")
    if data.get("site_id") is None and not ctx.who.unscoped:
        # An unplaced charger is visible to unscoped tokens only.
        raise InvalidValue.of("site_id", "required for a site-scoped token")
    data = {k: v for k, v in data.items() if not (k == "site_id" and v is None)}
    charger = Charger(id=uuid.uuid4(), ocpp_id=data["ocpp_id"], site_id=data.get("site_id"))
    assign(charger, with_defaults(data, OPERATIONAL | TECHNICAL), OPERATIONAL | TECHNICAL)
    charger.config_sync = "pending"
    await _check(ctx, charger, data)
    _set_password(charger, data)
    ctx.uow.chargers.add(charger)
    await ctx.uow.chargers.flush()
    ctx.changed("charger", charger.id, charger.site_id, "created", data)
    return charger


async def update_charger(
    ctx: ConfigContext, charger_id: uuid.UUID, data: dict[str, Any]
) -> Charger:
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    technical = [k for k in (*TECHNICAL, "password") if k in data]
    if technical:
        ctx.who.require_technical(", ".join(technical))
    old_site = charger.site_id
    changed = assign(charger, data, OPERATIONAL | TECHNICAL)
    # No autoflush while checking: the unchecked charger (a site_id or circuit_id to
    # nothing) would be written first and fail on its foreign key (409, no field).
    with ctx.uow.session.no_autoflush:
        await _check(ctx, charger, data)
    if _set_password(charger, data):
        changed.add("password")
    if changed & PUSHED:
        charger.config_sync = "pending"
    if changed and old_site != charger.site_id:
        ctx.changed("charger", charger.id, old_site, "deleted")
    await ctx.commit_update("charger", charger.id, charger.site_id, changed)
    return charger


async def delete_charger(ctx: ConfigContext, charger_id: uuid.UUID) -> None:
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_technical("deleting a charger")
    ocpp_id = charger.ocpp_id
    await ctx.uow.chargers.delete(charger)
    ctx.changed("charger", charger_id, charger.site_id, "deleted")
    # Only a deletion names the ocpp_id: the OCPP server closes that charger's socket
    # (a charger moved to another site is "deleted" from the old one without it).
    ctx._pending[-1]["ocpp_id"] = ocpp_id
    await ctx.commit()


def _set_password(charger: Charger, data: dict[str, Any]) -> bool:
    if "password" not in data:
        return False
    password = data["password"]
    charger.password_hash = hash_password(password) if password else None
    return True


async def _check(ctx: ConfigContext, charger: Charger, data: dict[str, Any]) -> None:
    if "ocpp_id" in data:
        check_ocpp_id(charger.ocpp_id)
        other = await ctx.uow.chargers.by_ocpp_id(charger.ocpp_id)
        if other is not None and other.id != charger.id:
            raise Conflict(f"a charger with ocpp_id {charger.ocpp_id!r} exists already")
    if "site_id" in data:
        ctx.who.check_site(charger.site_id, "site")
        if charger.site_id is None or await ctx.uow.sites.get(charger.site_id) is None:
            raise InvalidValue.of("site_id", "no such site")
    if charger.circuit_id is not None and ("circuit_id" in data or "site_id" in data):
        circuit = await ctx.uow.circuits.get(charger.circuit_id)
        if circuit is None or circuit.site_id != charger.site_id:
            raise InvalidValue.of("circuit_id", "no such circuit on the charger's site")
    if charger.allowed_currents is not None and charger.current_step is not None:
        raise InvalidValue.of("current_step", "give allowed_currents or current_step, not both")
    if "allowed_currents" in data and charger.allowed_currents is not None:
        charger.allowed_currents = sorted({float(a) for a in charger.allowed_currents})
    if charger.registration_status not in ("Accepted", "Pending", "Rejected"):
        raise InvalidValue.of("registration_status", "Accepted, Pending or Rejected")
