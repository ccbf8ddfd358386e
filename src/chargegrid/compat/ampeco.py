"""The AMPECO-compatible surface at ``/compat/ampeco`` (docs/compat.md, "AMPECO").

AMPECO's EVSE resources (the seed's deprecated ``PUT .../evses/v2.0/{evse}``, its
successors ``PATCH .../evses/v2.1/{evse}`` and ``PATCH .../charge-points/v2.0/{cp}/
evses/{evse}``) and its circuits (``/public-api/resources/circuits/v2.0``), camelCase,
with AMPECO's list shape (``data``, ``links``, ``meta``) and Laravel's error shape
(``message``, ``errors``: 401, 403, 404, 409, 422, 429). Ids are the integer aliases of
our records (a UUID is taken too). Bearer token: a chargegrid API token.

Underneath is ``/api/v1``: each write is validated by our own schemas (``EvseUpdate``,
``ConnectorUpdate``, ``CircuitCreate``/``CircuitUpdate``) and applied by the same
services, roles, audit and ``config.changed`` (so the control loop rebalances). An EVSE
write that touches the EVSE and its connectors is one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from chargegrid.api.routers.common import in_scope
from chargegrid.api.routers.load import site_view
from chargegrid.api.schemas.circuits import CircuitCreate as OurCircuitCreate
from chargegrid.api.schemas.circuits import CircuitUpdate as OurCircuitUpdate
from chargegrid.api.schemas.common import Timestamp
from chargegrid.api.schemas.evses import ConnectorUpdate, EvseUpdate
from chargegrid.compat import ampeco_models as a
from chargegrid.compat import ampeco_views as views
from chargegrid.compat.auth import BearerCtx
from chargegrid.compat.ids import AliasKind, aliases, resolve
from chargegrid.compat.surface import Surface, VendorError, error_responses
from chargegrid.compat.validation import validated_as
from chargegrid.domain.errors import FieldError, InvalidValue, NotFound
from chargegrid.services.configure import circuits, evses
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.models import Charger, Circuit, Evse, Site

T = TypeVar("T")

TAG = "AMPECO"
PREFIX = "/compat/ampeco"
EVSE_V20 = "/public-api/resources/evses/v2.0/{evse}"
EVSE_V21 = "/public-api/resources/evses/v2.1/{evse}"
CP_EVSE = "/public-api/resources/charge-points/v2.0/{chargePoint}/evses/{evse}"
CIRCUITS = "/public-api/resources/circuits/v2.0"

router = APIRouter(
    responses=error_responses(
        a.AmpecoError,
        {
            401: "Access token is missing or invalid",
            403: "You do not have permission to perform the action",
            404: "The record is not found",
            422: "The payload you provided is invalid",
            429: "Too many requests; see Retry-After",
        },
    )
)
# Laravel's fixed messages, as AMPECO's reference shows them.
_MESSAGES = {
    401: "Unauthenticated.",
    403: "This action is unauthorized.",
    422: "The given data was invalid.",
}


def render(error: VendorError) -> Response:
    """``{"message"}``, and for 422 ``errors`` as ``{field: [messages]}``."""
    body = a.AmpecoError(message=_MESSAGES.get(error.status, error.message))
    if error.errors:
        body.errors = {}
        for e in error.errors:
            body.errors.setdefault(e.field, []).append(e.message)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=error.status, headers=error.headers
    )


@contextmanager
def renamed(names: Mapping[str, str]) -> Iterator[None]:
    """Our field names in the errors raised inside, as AMPECO's."""
    try:
        yield
    except InvalidValue as exc:
        errors = [FieldError(names.get(e.field, e.field), e.message) for e in exc.errors]
        raise InvalidValue(errors) from exc


async def _reference(ctx: ConfigContext, kind: AliasKind, ref: a.Ref, field: str) -> uuid.UUID:
    """An id in a body: unknown is a bad value (422 naming the field), not a 404."""
    try:
        return await resolve(ctx.uow, kind, str(ref))
    except NotFound as exc:
        raise InvalidValue.of(field, f"no such {kind.value}") from exc


# --- EVSEs ---------------------------------------------------------------------------------


async def _evse(ctx: ConfigContext, ref: str, charge_point: str | None = None) -> Evse:
    evse = await evses.get_evse(ctx, await resolve(ctx.uow, AliasKind.EVSE, ref, "EVSE"))
    if charge_point is not None:
        charger_id = await resolve(ctx.uow, AliasKind.CHARGER, charge_point, "charge point")
        if evse.charger_id != charger_id:
            raise NotFound("no such EVSE on this charge point")
    return evse


async def _evse_aliases(ctx: ConfigContext, evse: Evse) -> dict[uuid.UUID, int]:
    return {
        **await aliases(ctx.uow, AliasKind.EVSE, [evse.id]),
        **await aliases(ctx.uow, AliasKind.CHARGER, [evse.charger_id]),
        **await aliases(ctx.uow, AliasKind.CONNECTOR, [c.id for c in evse.connectors]),
    }


async def _reread(ctx: ConfigContext, evse: Evse) -> tuple[Evse, dict[uuid.UUID, int]]:
    ctx.uow.session.expunge_all()  # its connectors and charger as now stored
    fresh = await evses.get_evse(ctx, evse.id)
    return fresh, await _evse_aliases(ctx, fresh)


async def _write_evse(
    ctx: ConfigContext,
    evse: Evse,
    evse_given: Mapping[str, Any],
    power_given: Mapping[str, Any],
    names: Mapping[str, str],
    per_connector: Mapping[uuid.UUID, dict[str, Any]] | None = None,
) -> None:
    """AMPECO's EVSE fields onto the EVSE, its power options onto each of its connectors,
    in one transaction: checked by our schemas first, then by the same services."""
    if power_given.get("connectedPhase") is not None:
        names = {
            **names,
            "phase_rotation": names["phase_rotation"].replace("phaseRotation", "connectedPhase"),
        }
    with renamed(names):
        evse_data = validated_as(EvseUpdate, views.evse_fields(evse_given))
        connector_data = {
            c.id: validated_as(
                ConnectorUpdate,
                {**views.connector_fields(power_given, c), **(per_connector or {}).get(c.id, {})},
            )
            for c in evse.connectors
        }
        async with ctx.one_commit():
            fields = views.changed_only(evse, evse_data)
            if fields:
                await evses.update_evse(ctx, evse.id, fields)
            for connector in evse.connectors:
                fields = views.changed_only(connector, connector_data[connector.id])
                if fields:
                    await evses.update_connector_on_evse(
                        ctx, evse.id, connector.connector_id, fields
                    )


def _connector_writes(
    evse: Evse, connectors: list[a.ConnectorIn], numbers: Mapping[uuid.UUID, int]
) -> dict[uuid.UUID, dict[str, Any]]:
    """v2.0's ``connectors[]``: each one's type and format, by its alias."""
    by_alias = {numbers[c.id]: c for c in evse.connectors if c.id in numbers}
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for index, item in enumerate(connectors):
        connector = by_alias.get(item.id)
        if connector is None:
            raise InvalidValue.of(f"connectors[{index}].id", "no such connector on this EVSE")
        if item.status == "disabled":
            raise InvalidValue.of(
                f"connectors[{index}].status",
                "not supported: a connector is not disabled on its own; disable the EVSE",
            )
        fields: dict[str, Any] = {}
        if item.type is not None:
            standard = views.STANDARD_OF_TYPE.get(item.type)
            if standard is None:
                raise InvalidValue.of(f"connectors[{index}].type", "not supported: no OCPI type")
            fields["standard"] = standard.value
        if item.format is not None:
            fields["format"] = item.format.upper()
        out[connector.id] = fields
    return out


@router.get(EVSE_V20, summary="EVSE / Read (v2.0, deprecated)")
async def read_evse_v20(evse: str, ctx: BearerCtx) -> a.One[a.EvseV20]:
    """The EVSE (id: its alias or UUID) in v2.0's shape. Its power options are its first
    connector's."""
    row = await _evse(ctx, evse)
    return a.One(data=views.evse_v20(row, await _evse_aliases(ctx, row)))


@router.put(EVSE_V20, summary="EVSE / Update (v2.0, deprecated; the seed)")
async def update_evse_v20(evse: str, body: a.EvseReplaceV20, ctx: BearerCtx) -> a.One[a.EvseV20]:
    """`physicalReference`, `networkId` (the OCPP EVSE id), `status` (`active`,
    `disabled`, `out of order` = disabled) onto the EVSE; `type`, `phases`,
    `phaseRotation`, `maxVoltage`, `maxAmperage`, `maxPowerKw` onto each of its
    connectors; `connectors[]` set one connector's `type` and `format`. Values that hold
    already are not rewritten (so an owner may repeat the technical ones unchanged).
    Roles and rules as `PATCH /api/v1/evses/{id}` and its connectors'. One transaction."""
    row = await _evse(ctx, evse)
    given = body.model_dump(exclude_unset=True)
    power: dict[str, Any] = {"currentType": given["type"]}
    for name in ("phases", "maxVoltage", "maxAmperage", "phaseRotation"):
        if name in given:
            power[name] = given[name]
    if "maxPowerKw" in given:
        kw = given["maxPowerKw"]
        power["maxPower"] = None if kw is None else kw * 1000
    numbers = await _evse_aliases(ctx, row)
    with renamed(views.EVSE_NAMES_V20):
        per_connector = _connector_writes(row, body.connectors or [], numbers)
    await _write_evse(ctx, row, given, power, views.EVSE_NAMES_V20, per_connector)
    fresh, numbers = await _reread(ctx, row)
    return a.One(data=views.evse_v20(fresh, numbers))


async def _patch_evse(ctx: ConfigContext, row: Evse, body: a.EvsePatch) -> a.One[a.EvseV21]:
    given = body.model_dump(exclude_unset=True)
    power = dict(given.get("powerOptions") or {})
    if "currentType" in given:
        power["currentType"] = given["currentType"]
    await _write_evse(ctx, row, given, power, views.EVSE_NAMES_V21)
    fresh, numbers = await _reread(ctx, row)
    return a.One(data=views.evse_v21(fresh, numbers))


@router.get(EVSE_V21, summary="EVSE / Read")
async def read_evse_v21(evse: str, ctx: BearerCtx) -> a.One[a.EvseV21]:
    """The EVSE (id: its alias or UUID) with `powerOptions` (its first connector's)."""
    row = await _evse(ctx, evse)
    return a.One(data=views.evse_v21(row, await _evse_aliases(ctx, row)))


_PATCH_DOC = """Only the fields sent change. `physicalReference`, `networkId` (the OCPP
EVSE id), `status` (`enabled`, `disabled`, `out of order` = disabled) onto the EVSE;
`currentType` and `powerOptions` (`phases`, `phaseRotation`, `connectedPhase` (wins over
`phaseRotation` for one phase), `maxVoltage`, `maxAmperage`, `maxPower` in W) onto each
of its connectors. Roles and rules as `PATCH /api/v1/evses/{id}` and its connectors'
(wiring: service, admin); the load manager uses the new wiring at once. One
transaction."""


@router.patch(EVSE_V21, summary="EVSE / Update", description=_PATCH_DOC)
async def update_evse_v21(evse: str, body: a.EvsePatch, ctx: BearerCtx) -> a.One[a.EvseV21]:
    return await _patch_evse(ctx, await _evse(ctx, evse), body)


@router.get(CP_EVSE, summary="Charge Point / EVSE / Read")
async def read_charge_point_evse(chargePoint: str, evse: str, ctx: BearerCtx) -> a.One[a.EvseV21]:
    """The charge point's EVSE (404 when the EVSE is on another charge point)."""
    row = await _evse(ctx, evse, chargePoint)
    return a.One(data=views.evse_v21(row, await _evse_aliases(ctx, row)))


@router.patch(CP_EVSE, summary="Charge Point / EVSE / Update", description=_PATCH_DOC)
async def update_charge_point_evse(
    chargePoint: str, evse: str, body: a.EvsePatch, ctx: BearerCtx
) -> a.One[a.EvseV21]:
    return await _patch_evse(ctx, await _evse(ctx, evse, chargePoint), body)


PerPage = Annotated[int, Query(ge=1, le=100, description="Items a page")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="From the previous answer's links.next")
]


def _listing(
    request: Request, data: list[T], per_page: int, next_cursor: str | None
) -> a.Listing[T]:
    """AMPECO's list shape: cursor pagination, so ``links.next`` and no last page."""
    url = request.url.remove_query_params("cursor")
    next_link = None
    if next_cursor is not None:
        next_link = str(url.include_query_params(cursor=next_cursor, per_page=per_page))
    return a.Listing(
        data=data,
        links=a.Links(first=str(url), next=next_link),
        meta=a.Meta(path=str(url.replace(query="")), per_page=per_page, next_cursor=next_cursor),
    )


@router.get("/public-api/resources/evses/v2.1", summary="EVSE / Listing")
async def list_evses(
    request: Request, ctx: BearerCtx, per_page: PerPage = 100, cursor: Cursor = None
) -> a.Listing[a.EvseV21]:
    """The EVSEs of the token's sites, a page at a time (follow `links.next`)."""
    repo = ctx.uow.evses
    query = repo.select().join(Charger).where(in_scope(ctx.who, Charger.site_id, None))
    page = await repo.page(query, per_page, cursor)
    numbers = {
        **await aliases(ctx.uow, AliasKind.EVSE, [e.id for e in page.items]),
        **await aliases(ctx.uow, AliasKind.CHARGER, {e.charger_id for e in page.items}),
        **await aliases(
            ctx.uow, AliasKind.CONNECTOR, [c.id for e in page.items for c in e.connectors]
        ),
    }
    data = [views.evse_v21(e, numbers) for e in page.items]
    return _listing(request, data, per_page, page.next_cursor)


# --- circuits ------------------------------------------------------------------------------

Include = Literal[
    "consumption", "unmanagedLoad", "chargePointPriorities", "userPriorities", "socPriorities"
]


async def _circuit_aliases(ctx: ConfigContext, rows: list[Circuit]) -> dict[uuid.UUID, int]:
    ids = {c.id for c in rows} | {c.parent_id for c in rows if c.parent_id}
    return {
        **await aliases(ctx.uow, AliasKind.CIRCUIT, ids),
        **await aliases(ctx.uow, AliasKind.SITE, {c.site_id for c in rows}),
    }


async def _circuits_out(
    request: Request, ctx: ConfigContext, rows: list[Circuit], include: set[str]
) -> list[a.CircuitOut]:
    numbers = await _circuit_aliases(ctx, rows)
    site_ids = {c.site_id for c in rows}
    site_rows = [await ctx.uow.sites.get(i) for i in site_ids]
    networks = {s.id: s.network_type for s in site_rows if s is not None}
    loads: dict[uuid.UUID, dict[str, Any]] = {}
    if include & {"consumption", "unmanagedLoad"}:
        for site_id in site_ids:
            loads[site_id] = await site_view(request, request.app.state.db, site_id)
    out = []
    for circuit in rows:
        load = loads.get(circuit.site_id)
        node = None
        at: datetime | None = None
        if load is not None:
            node = next((n for n in load["nodes"] if n["id"] == str(circuit.id)), None)
            at = datetime.fromisoformat(load["computed_at"])
        view = views.circuit_out(circuit, numbers, networks.get(circuit.site_id, "TN"), node, at)
        if "consumption" not in include:
            view.consumption = None
        if "unmanagedLoad" not in include:
            view.unmanagedLoad = None
        out.append(view)
    return out


IncludeQuery = Annotated[
    list[Include] | None,
    Query(alias="include[]", description="consumption, unmanagedLoad (the priorities: null)"),
]


@router.get(CIRCUITS, summary="Circuits / Listing")
async def list_circuits(
    request: Request,
    ctx: BearerCtx,
    per_page: PerPage = 100,
    cursor: Cursor = None,
    last_updated_after: Annotated[Timestamp | None, Query(alias="filter[lastUpdatedAfter]")] = None,
    include: IncludeQuery = None,
) -> a.Listing[a.CircuitOut]:
    """The circuits of the token's sites, a page at a time (cursor pagination: follow
    `links.next`)."""
    repo = ctx.uow.circuits
    query = repo.select().where(in_scope(ctx.who, Circuit.site_id, None))
    if last_updated_after is not None:
        query = query.where(Circuit.updated_at >= last_updated_after)
    page = await repo.page(query, per_page, cursor)  # a forged cursor: 422 naming it
    data = await _circuits_out(request, ctx, page.items, set(include or ()))
    return _listing(request, data, per_page, page.next_cursor)


async def _circuit(ctx: ConfigContext, ref: str) -> Circuit:
    return await circuits.get_circuit(
        ctx, await resolve(ctx.uow, AliasKind.CIRCUIT, ref, "circuit")
    )


@router.get(CIRCUITS + "/{circuit}", summary="Circuits / Read")
async def read_circuit(
    circuit: str, request: Request, ctx: BearerCtx, include: IncludeQuery = None
) -> a.One[a.CircuitOut]:
    """One circuit (id: its alias or UUID); `include[]=consumption` and
    `include[]=unmanagedLoad` add what it carries and its unmanaged load per phase (A)."""
    row = await _circuit(ctx, circuit)
    (out,) = await _circuits_out(request, ctx, [row], set(include or ()))
    return a.One(data=out)


async def _circuit_data(
    ctx: ConfigContext, given: Mapping[str, Any], site: Site, phases_now: int
) -> dict[str, Any]:
    """AMPECO's circuit fields as ours, ids resolved (not yet checked by our schema)."""
    configuration = given.get("electricalConfiguration")
    if configuration is not None and configuration != (
        "delta" if site.network_type == "IT" else "star"
    ):
        raise InvalidValue.of(
            "electricalConfiguration",
            f"the site's network is {site.network_type}; it is set on the site "
            "(network_type), not per circuit",
        )
    data = views.circuit_fields(given, phases_now)
    if "parentCircuitId" in given:
        parent = given["parentCircuitId"]
        data["parent_id"] = (
            None
            if parent is None
            else await _reference(ctx, AliasKind.CIRCUIT, parent, "parentCircuitId")
        )
    if "electricityMeterId" in given:
        meter = given["electricityMeterId"]
        if isinstance(meter, int):
            raise InvalidValue.of(
                "electricityMeterId", "give the meter's UUID (meters have no integer id)"
            )
        data["electricity_meter_id"] = meter
    return data


async def _site_for_new_circuit(ctx: ConfigContext, body: a.CircuitCreate) -> Site:
    if body.parentCircuitId is not None:
        parent_id = await _reference(
            ctx, AliasKind.CIRCUIT, body.parentCircuitId, "parentCircuitId"
        )
        try:
            site_id = (await circuits.get_circuit(ctx, parent_id)).site_id
        except NotFound as exc:
            raise InvalidValue.of("parentCircuitId", "no such circuit") from exc
    elif body.locationId is not None:
        site_id = await _reference(ctx, AliasKind.SITE, body.locationId, "locationId")
    elif ctx.who.site_ids is not None and len(ctx.who.site_ids) == 1:
        (site_id,) = ctx.who.site_ids
    else:
        raise InvalidValue.of("locationId", "required for a circuit without parentCircuitId")
    site = await ctx.uow.sites.get(site_id)
    if site is None or not ctx.who.can_see_site(site_id):
        raise InvalidValue.of("locationId", "no such location")
    return site


@router.post(CIRCUITS, status_code=201, summary="Circuit / Create")
async def create_circuit(
    body: a.CircuitCreate, request: Request, ctx: BearerCtx
) -> a.One[a.CircuitOut]:
    """A circuit under `parentCircuitId`, or under the main fuse of `locationId` (the
    site; may be left out by a token scoped to one site). `phases` `single_phase` (with
    `connectedPhase`) or `three_phase` (with `phaseRotation`); `split_phase` is refused
    (our circuits have 1 or 3 phases). Roles and rules as `POST /api/v1/sites/{id}/
    circuits` (service, admin; a rating above the parent's is 422)."""
    site = await _site_for_new_circuit(ctx, body)
    given = body.model_dump(exclude_unset=True, exclude={"locationId"})
    with renamed(views.CIRCUIT_NAMES):
        data = validated_as(OurCircuitCreate, await _circuit_data(ctx, given, site, 3))
        row = await circuits.create_circuit(ctx, site.id, data)
    (out,) = await _circuits_out(request, ctx, [row], set())
    return a.One(data=out)


@router.patch(CIRCUITS + "/{circuit}", summary="Circuit / Update")
async def update_circuit(
    circuit: str, body: a.CircuitPatch, request: Request, ctx: BearerCtx
) -> a.One[a.CircuitOut]:
    """Only the fields sent change. Roles and rules as `PATCH /api/v1/circuits/{id}`
    (the breaker and wiring: service, admin); the site is rebalanced."""
    row = await _circuit(ctx, circuit)
    site = await ctx.uow.sites.get(row.site_id)
    assert site is not None  # a circuit's site is its foreign key
    given = body.model_dump(exclude_unset=True)
    with renamed(views.CIRCUIT_NAMES):
        data = validated_as(OurCircuitUpdate, await _circuit_data(ctx, given, site, row.phases))
        await circuits.update_circuit(ctx, row.id, data)
    ctx.uow.session.expunge_all()
    (out,) = await _circuits_out(request, ctx, [await _circuit(ctx, circuit)], set())
    return a.One(data=out)


@router.delete(CIRCUITS + "/{circuit}", status_code=204, summary="Circuit / Delete")
async def delete_circuit(circuit: str, ctx: BearerCtx) -> Response:
    """Deletes an empty circuit (409 while it has sub-circuits or chargers). Service, admin."""
    await circuits.delete_circuit(ctx, (await _circuit(ctx, circuit)).id)
    return Response(status_code=204)


SURFACE = Surface(
    tag=TAG,
    prefix=PREFIX,
    router=router,
    render_error=render,
    description="AMPECO.CHARGE's EVSE and circuit resources (public API v3.110) over chargegrid",
)
