"""Circuits: the nested fuse tree under a site's main fuse."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.errors import Conflict, ErrorCollector, InvalidValue
from chargegrid.domain.limits import check_rating
from chargegrid.domain.phases import PhaseRotation
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    apply_override,
    assign,
    found,
    with_defaults,
)
from chargegrid.services.configure.sites import get_site
from chargegrid.store.models import Circuit, Site

OPERATIONAL = {"name": REQUIRED, "priority": 1.0}
TECHNICAL = {
    "parent_id": None,
    "max_current": REQUIRED,
    "phases": 3,
    "phase_rotation": None,  # null: straight-through for the circuit's phase count
    "electricity_meter_id": None,
    "offline_reserved_current": 0.0,
    # Networks as they are wired (docs/load-manager.md "Wiring and transformers").
    "phasor_lines": False,
    "transformer_ratio": None,
    "transformer_primary_current": None,
}
SITE_PHASES = 3


async def get_circuit(ctx: ConfigContext, circuit_id: uuid.UUID) -> Circuit:
    circuit = found(await ctx.uow.circuits.get(circuit_id), "circuit")
    ctx.who.check_site(circuit.site_id, "circuit")
    return circuit


async def create_circuit(ctx: ConfigContext, site_id: uuid.UUID, data: dict[str, Any]) -> Circuit:
    site = await get_site(ctx, site_id)
    ctx.who.require_technical("circuits")
    for name in ("name", "max_current"):
        if data.get(name) is None:
            raise InvalidValue.of(name, "required")
    circuit = Circuit(
        id=uuid.uuid4(), site_id=site.id, name=data["name"], max_current=data["max_current"]
    )
    assign(circuit, with_defaults(data, OPERATIONAL | TECHNICAL), OPERATIONAL | TECHNICAL)
    await _check_tree(ctx, site, circuit, data)
    apply_override(circuit, data, ctx.now, circuit.max_current)
    ctx.uow.circuits.add(circuit)
    ctx.changed("circuit", circuit.id, site.id, "created", data)
    await ctx.commit()
    return circuit


async def update_circuit(
    ctx: ConfigContext, circuit_id: uuid.UUID, data: dict[str, Any]
) -> Circuit:
    circuit = await get_circuit(ctx, circuit_id)
    ctx.who.require_write()
    technical = [k for k in TECHNICAL if k in data]
    if technical:
        ctx.who.require_technical(", ".join(technical))
    site = found(await ctx.uow.sites.get(circuit.site_id), "site")
    if (
        "phases" in data
        and "phase_rotation" not in data
        and circuit.phase_rotation == str(PhaseRotation.identity(circuit.phases))
    ):
        # A straight-through rotation follows a change of phase count.
        data = {**data, "phase_rotation": None}
    changed = assign(circuit, data, OPERATIONAL | TECHNICAL)
    # The checks query the database; an autoflush there would write the unchecked
    # circuit first, and a parent_id to nothing would surface as an FK error (409)
    # instead of the 422 naming the field that POST gives.
    with ctx.uow.session.no_autoflush:
        await _check_tree(ctx, site, circuit, data)
    changed |= apply_override(circuit, data, ctx.now, circuit.max_current)
    await ctx.commit_update("circuit", circuit.id, site.id, changed)
    return circuit


async def delete_circuit(ctx: ConfigContext, circuit_id: uuid.UUID) -> None:
    circuit = await get_circuit(ctx, circuit_id)
    ctx.who.require_technical("deleting a circuit")
    if await ctx.uow.circuits.children(circuit.id):
        raise Conflict("the circuit has sub-circuits; move or delete them first")
    if await ctx.uow.chargers.count_in_circuit(circuit.id):
        raise Conflict("chargers are attached to the circuit; move or delete them first")
    await ctx.uow.circuits.delete(circuit)
    ctx.changed("circuit", circuit_id, circuit.site_id, "deleted")
    await ctx.commit()


async def _check_tree(
    ctx: ConfigContext, site: Site, circuit: Circuit, data: dict[str, Any]
) -> None:
    """Every rule that ties a circuit to its parent and its children."""
    errors = ErrorCollector()
    if circuit.phases not in (1, 3):
        errors.add("phases", "must be 1 or 3")
        errors.raise_if_any()
    if circuit.phase_rotation is None:
        circuit.phase_rotation = str(PhaseRotation.identity(circuit.phases))
    rotation = PhaseRotation.parse(circuit.phase_rotation)
    if rotation.phase_count != circuit.phases:
        errors.add(
            "phase_rotation",
            f"{circuit.phases}-phase circuit needs a {circuit.phases}-letter rotation, "
            f"not {rotation}",
        )

    parent_phases, parent_limit, parent_what = SITE_PHASES, site.max_current, "site's main fuse"
    if circuit.parent_id is not None:
        parent = await ctx.uow.circuits.get(circuit.parent_id)
        if parent is None or parent.site_id != site.id:
            raise InvalidValue.of("parent_id", "no such circuit on this site")
        await _check_no_cycle(ctx, circuit, parent)
        parent_phases, parent_limit, parent_what = parent.phases, parent.max_current, "parent"
    await _check_transformer(ctx, circuit, errors)
    # A transformer's primary lines are what its parent carries.
    rating_field, rating = "max_current", circuit.max_current
    if circuit.transformer_primary_current is not None:
        rating_field, rating = "transformer_primary_current", circuit.transformer_primary_current
    try:
        check_rating(rating_field, rating, parent_limit, parent_what)
    except InvalidValue as exc:
        errors.errors.extend(exc.errors)
    if rotation.phase_count == circuit.phases:
        try:
            PhaseRotation.identity(parent_phases).then(rotation)
        except InvalidValue as exc:
            errors.errors.extend(exc.errors)

    for child in await ctx.uow.circuits.children(circuit.id) if circuit.id else []:
        if _rating(child) > circuit.max_current:
            errors.add(
                "max_current", f"sub-circuit {child.name!r} is rated {child.max_current:g} A"
            )
        if child.phases > circuit.phases:
            errors.add("phases", f"sub-circuit {child.name!r} has {child.phases} phases")
    await _check_meter(ctx, site, data, errors)
    if circuit.offline_reserved_current > circuit.max_current:
        errors.add("offline_reserved_current", "cannot exceed the circuit's max_current")
    errors.raise_if_any()


def _rating(circuit: Circuit) -> float:
    """What a circuit draws from its parent at most: a transformer's primary rating."""
    if circuit.transformer_primary_current is not None:
        return circuit.transformer_primary_current
    return circuit.max_current


async def _check_transformer(ctx: ConfigContext, circuit: Circuit, errors: ErrorCollector) -> None:
    """Ratio and primary rating come together, on three phases, one transformer deep."""
    ratio, primary = circuit.transformer_ratio, circuit.transformer_primary_current
    if (ratio is None) != (primary is None):
        missing = "transformer_primary_current" if primary is None else "transformer_ratio"
        errors.add(missing, "a transformer needs transformer_ratio and transformer_primary_current")
        return
    if ratio is None:
        return
    if circuit.phases != 3:
        errors.add("transformer_ratio", "a delta-wye transformer needs 3 phases")
    parent_id, seen = circuit.parent_id, 0
    while parent_id is not None and seen < 1000:
        parent = await ctx.uow.circuits.get(parent_id)
        if parent is None:
            break
        if parent.transformer_ratio is not None:
            errors.add("transformer_ratio", f"{parent.name!r} above it is a transformer already")
            return
        parent_id, seen = parent.parent_id, seen + 1
    if circuit.id is not None and await _transformer_below(ctx, circuit.id):
        errors.add("transformer_ratio", "a circuit below it is a transformer already")


async def _transformer_below(ctx: ConfigContext, circuit_id: uuid.UUID) -> bool:
    pending = [circuit_id]
    while pending:
        for child in await ctx.uow.circuits.children(pending.pop()):
            if child.transformer_ratio is not None:
                return True
            pending.append(child.id)
    return False


async def _check_no_cycle(ctx: ConfigContext, circuit: Circuit, parent: Circuit) -> None:
    seen: set[uuid.UUID] = set()
    node: Circuit | None = parent
    while node is not None:
        if node.id == circuit.id or node.id in seen:
            raise InvalidValue.of("parent_id", "a circuit cannot be inside itself")
        seen.add(node.id)
        node = await ctx.uow.circuits.get(node.parent_id) if node.parent_id else None


async def _check_meter(
    ctx: ConfigContext, site: Site, data: dict[str, Any], errors: ErrorCollector
) -> None:
    meter_id = data.get("electricity_meter_id")
    if meter_id is not None and not await ctx.meter_is_on_site(meter_id, site.id):
        errors.add("electricity_meter_id", "no such meter on this site")
