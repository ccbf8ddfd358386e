from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.circuits import CircuitCreate, CircuitOut, CircuitUpdate
from chargegrid.api.schemas.common import ListOf
from chargegrid.services.configure import circuits
from chargegrid.services.configure.sites import get_site
from chargegrid.store.models import Circuit

router = make_router("circuits")


@router.post("/sites/{site_id}/circuits", status_code=201, summary="Create a circuit")
async def create_circuit(site_id: uuid.UUID, body: CircuitCreate, ctx: Ctx) -> CircuitOut:
    """A new circuit (a fuse) in the site's tree: under the main fuse, or under
    `parent_id`. `name` and `max_current` (A per phase) are required; `phases` (1 or 3,
    default 3), `phase_rotation` to its parent (default straight through),
    `electricity_meter_id`, `offline_reserved_current`, `priority` and an
    available-current override are optional. A 208 V network's circuit may check its
    lines on phasor sums (`phasor_lines`), and a circuit may be a delta-wye transformer
    (`transformer_ratio` with `transformer_primary_current`, rated against the parent):
    docs/load-manager.md "Wiring and transformers".

    Roles: service, admin

    403 for owner and viewer. 422 names each bad field: a rating above the parent's
    (or the main fuse's), a rotation whose letters do not match `phases`, a parent or
    meter not on this site, `offline_reserved_current` above `max_current`. Audited and
    published as `config.changed`; the load manager takes the new node into account.
    """
    data = body.model_dump(exclude_unset=True)
    return CircuitOut.of(await circuits.create_circuit(ctx, site_id, data))


@router.get("/sites/{site_id}/circuits", summary="List a site's circuits")
async def list_circuits(
    site_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[CircuitOut]:
    """Every circuit of the site, nested ones included (each names its `parent_id`), a
    page at a time.

    Roles: viewer, owner, service, admin

    404 for an unknown site or one outside the token's sites.
    """
    await get_site(ctx, site_id)
    repo = ctx.uow.circuits
    page = await repo.page(repo.select().where(Circuit.site_id == site_id), limit, cursor)
    return ListOf(data=[CircuitOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/circuits/{circuit_id}", summary="Get a circuit")
async def get_circuit(circuit_id: uuid.UUID, ctx: Ctx) -> CircuitOut:
    """One circuit: rating, phases, rotation, meter, override as set and
    `effective_available_current` per phase.

    Roles: viewer, owner, service, admin

    404 for an unknown circuit or one on a site outside the token's sites.
    """
    return CircuitOut.of(await circuits.get_circuit(ctx, circuit_id))


@router.patch("/circuits/{circuit_id}", summary="Change a circuit")
async def update_circuit(circuit_id: uuid.UUID, body: CircuitUpdate, ctx: Ctx) -> CircuitOut:
    """Changes only the fields sent (`null`: back to the default). The override fields
    follow the site's rules (clamped to the circuit's `max_current`). A straight-through
    rotation follows a change of `phases`; moving it with `parent_id` re-checks the tree.

    Roles: owner, service, admin (technical fields `parent_id`, `max_current`, `phases`,
    `phase_rotation`, `electricity_meter_id`, `offline_reserved_current`,
    `phasor_lines`, `transformer_ratio`, `transformer_primary_current`: service, admin)

    403 for a viewer, or an owner sending a technical field. 422 names each bad field:
    a rating above the parent's or below a sub-circuit's, fewer phases than a
    sub-circuit, a cycle (`parent_id` inside itself), a rotation that does not match, a
    transformer ratio without its primary rating (or the other way), on fewer than 3
    phases, or above or below another transformer.
    A change is audited and published as `config.changed`; the site is rebalanced.
    """
    data = body.model_dump(exclude_unset=True)
    return CircuitOut.of(await circuits.update_circuit(ctx, circuit_id, data))


@router.delete("/circuits/{circuit_id}", status_code=204, summary="Delete a circuit")
async def delete_circuit(circuit_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes an empty circuit.

    Roles: service, admin

    403 for owner and viewer; 409 while it has sub-circuits or chargers (move or delete
    them first). Audited and published as `config.changed` (deleted).
    """
    await circuits.delete_circuit(ctx, circuit_id)
    return Response(status_code=204)
