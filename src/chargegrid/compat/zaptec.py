"""The Zaptec-compatible surface at ``/compat/zaptec`` (docs/compat.md, "Zaptec").

An integration written against api.zaptec.com works by changing its base URL: the same
paths, PascalCase fields (keys matched case-insensitively), Zaptec's error body
``{"Code", "Details"}`` and its statuses (400 for a bad value, 401, 403). Underneath it is
``/api/v1``: every update is validated by our own schema and applied by the same service
(``services/configure``), with the same roles, audit, ``config.changed`` event and
rebalance by the control loop.

Logging in (``POST /oauth/token``, OAuth2 password grant) takes a chargegrid API token:
``username`` is the token's id (or its name, both from ``chargegrid token list``) and
``password`` the token itself. The access token handed back is that API token, so a
revoked token stops working at once, whatever ``expires_in`` said.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Select, func, select

from chargegrid.api.deps import get_uow
from chargegrid.api.rate_limit import limit_failed_auth
from chargegrid.api.routers.common import in_scope
from chargegrid.api.routers.load import site_view
from chargegrid.api.schemas.chargers import ChargerUpdate as OurChargerUpdate
from chargegrid.api.schemas.sites import SiteUpdate
from chargegrid.compat import zaptec_models as z
from chargegrid.compat import zaptec_views as views
from chargegrid.compat.auth import BearerCaller, BearerCtx
from chargegrid.compat.ids import AliasKind, resolve
from chargegrid.compat.surface import Surface, VendorError, error_responses
from chargegrid.compat.validation import validated_as
from chargegrid.services.auth import PrincipalCache
from chargegrid.services.configure import chargers, sites
from chargegrid.store.models import Charger, Circuit, Site
from chargegrid.store.types import utcnow
from chargegrid.store.uow import UnitOfWork

TAG = "Zaptec"
PREFIX = "/compat/zaptec"
# Zaptec's access tokens last a day; ours (an API token) lasts until it is revoked.
TOKEN_LIFETIME_S = 86_400
_FORM = "application/x-www-form-urlencoded"
_MAX_FORM_BYTES = 4096

router = APIRouter(
    responses=error_responses(
        z.ZaptecError,
        {
            400: "A field has a value Zaptec's rules refuse",
            401: "No valid access token",
            403: "The caller's role may not do this",
            404: "No such installation or charger",
            429: "Rate limited; see Retry-After",
        },
    )
)

PageIndex = Annotated[int, Query(ge=0, le=100_000, description="0-based page")]
PageSize = Annotated[int, Query(ge=1, le=500, description="Items a page")]


def render(error: VendorError) -> Response:
    """Zaptec's error body, with the fields at fault in ``Errors``."""
    body = z.ZaptecError(
        Code=error.status,
        Details=error.message,
        Errors=[{"Field": e.field, "Message": e.message} for e in error.errors] or None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=error.status, headers=error.headers
    )


# --- log in ------------------------------------------------------------------------------


class OAuthRefused(Exception):
    """A login refused as RFC 6749 section 5.2 says (400, ``error`` and its description)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = z.OAuthError(error=error, error_description=description)

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        return JSONResponse(self.body.model_dump(), status_code=400, headers=headers)


async def _form(request: Request) -> dict[str, list[str]]:
    """The form-encoded body, read no further than ``_MAX_FORM_BYTES``."""
    if not request.headers.get("content-type", "").startswith(_FORM):
        raise OAuthRefused("invalid_request", f"send the form as {_FORM}")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_FORM_BYTES:
            raise OAuthRefused("invalid_request", "the form is too large")
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _password_grant(form: dict[str, list[str]]) -> tuple[str, str]:
    """The username and password of a password grant."""
    grant, username, password = (
        form.get(k, [""])[0] for k in ("grant_type", "username", "password")
    )
    if not grant:
        raise OAuthRefused("invalid_request", "grant_type is required")
    if grant != "password":
        raise OAuthRefused("unsupported_grant_type", "only grant_type=password is supported")
    if not username or not password:
        raise OAuthRefused("invalid_request", "username and password are required")
    return username, password


async def _token_named(request: Request, uow: UnitOfWork, username: str, token: str) -> bool:
    """Whether ``token`` is a live API token whose id or name is ``username``."""
    cache: PrincipalCache = request.app.state.principals
    principal = await cache.authenticate(uow, token)
    if principal is None or principal.token_id is None:
        return False
    row = await uow.tokens.get(principal.token_id)
    return row is not None and username in (str(row.id), row.name)


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {
                            "type": "string",
                            "description": "The API token's id or name (chargegrid token list)",
                        },
                        "password": {"type": "string", "description": "The API token"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/oauth/token",
    summary="Log in (OAuth2 password grant)",
    response_model=z.TokenAnswer,
    responses={400: {"model": z.OAuthError, "description": "RFC 6749 error"}},
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request, uow: Annotated[UnitOfWork, Depends(get_uow)]) -> Response:
    """Form-encoded `grant_type=password&username=...&password=...`. `username` is a
    chargegrid API token's id or name, `password` the token. Answers
    `{access_token, token_type: "Bearer", expires_in}`; the access token is the API token.
    A failed login is 400 `invalid_grant` and counts against the caller's address like
    any failed authentication (429 when over)."""
    try:
        username, password = _password_grant(await _form(request))
    except OAuthRefused as refused:
        return refused.response()
    if not await _token_named(request, uow, username, password):
        limit_failed_auth(request)
        return OAuthRefused("invalid_grant", "unknown username or password").response()
    answer = z.TokenAnswer(access_token=password, expires_in=TOKEN_LIFETIME_S)
    return JSONResponse(answer.model_dump(), headers={"Cache-Control": "no-store"})


# --- installations -----------------------------------------------------------------------


async def _page(
    uow: UnitOfWork, query: Select[Any], index: int, size: int
) -> tuple[list[Any], int]:
    """One page of ``query`` by index (Zaptec pages by number), and how many pages."""
    total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (await uow.session.scalars(query.offset(index * size).limit(size))).all()
    return list(rows), -(-int(total or 0) // size)


@router.get("/api/installation", summary="List installations")
async def list_installations(
    ctx: BearerCtx, PageIndex: PageIndex = 0, PageSize: PageSize = 100
) -> z.Page[z.Installation]:
    """The sites the token may see, as Zaptec installations (`{Pages, Data}`)."""
    scope: ColumnElement[bool] = in_scope(ctx.who, Site.id, None)
    query = select(Site).where(scope).order_by(Site.created_at, Site.id)
    rows, pages = await _page(ctx.uow, query, PageIndex, PageSize)
    return z.Page(Pages=pages, Data=[views.installation(s, ctx.who) for s in rows])


async def _site(ctx: BearerCtx, ref: str) -> Site:
    return await sites.get_site(ctx, await resolve(ctx.uow, AliasKind.SITE, ref, "installation"))


@router.get("/api/installation/{installation_id}", summary="Get an installation")
async def get_installation(installation_id: str, ctx: BearerCtx) -> z.Installation:
    """One site: `MaxCurrent` (its main fuse), `AvailableCurrent` (the override on all
    phases, clamped; null when none or set per phase) and `AvailableCurrentPhase1..3`
    (what the load manager works with on each phase). Id: our UUID or its alias."""
    return views.installation(await _site(ctx, installation_id), ctx.who)


@router.get("/api/installation/{installation_id}/hierarchy", summary="Circuits and chargers")
async def get_hierarchy(installation_id: str, ctx: BearerCtx) -> z.Hierarchy:
    """The site's circuits (nested ones listed flat, with `ParentId`), each with its
    chargers. Chargers on the main fuse itself are in a circuit whose Id is the
    installation's."""
    site = await _site(ctx, installation_id)
    circuits: list[Circuit] = await ctx.uow.circuits.for_site(site.id)
    return views.hierarchy(site, circuits, await ctx.uow.chargers.for_site(site.id), ctx.who)


@router.post("/api/installation/{installation_id}/update", summary="Update an installation")
async def update_installation(
    installation_id: str, body: z.InstallationUpdate, ctx: BearerCtx
) -> Response:
    """`AvailableCurrent` (all phases) or `AvailableCurrentPhase1/2/3` (a phase left out
    goes back to its default), never both (400). Negative clears the override; a value
    above `MaxCurrent` is clamped to it. `MaxCurrent` needs the service role (403 for an
    owner). `MinPowerOfflineMode`, `ThreeToOnePhaseSwitchCurrent`. Null fields change
    nothing. The same rules and service as `PATCH /api/v1/sites/{id}`: the site is
    rebalanced at once. Answers 200 with an empty body, as Zaptec does."""
    site = await _site(ctx, installation_id)
    data = validated_as(SiteUpdate, body.given(), z.InstallationUpdate.OURS)
    await sites.update_site(ctx, site.id, data)
    return Response(status_code=200)


# --- chargers ----------------------------------------------------------------------------


async def _charger(ctx: BearerCtx, ref: str) -> Charger:
    return await chargers.get_charger(
        ctx, await resolve(ctx.uow, AliasKind.CHARGER, ref, "charger")
    )


@router.get("/api/chargers", summary="List chargers")
async def list_chargers(
    ctx: BearerCtx,
    InstallationId: Annotated[str | None, Query(max_length=64)] = None,
    PageIndex: PageIndex = 0,
    PageSize: PageSize = 100,
) -> z.Page[z.Charger]:
    """The chargers the token may see, optionally of one installation."""
    site_id = None
    if InstallationId is not None:
        site_id = (await _site(ctx, InstallationId)).id
    repo = ctx.uow.chargers
    query = repo.select().where(in_scope(ctx.who, Charger.site_id, site_id))
    rows, pages = await _page(
        ctx.uow, query.order_by(Charger.created_at, Charger.id), PageIndex, PageSize
    )
    site_rows = {s.id: s for s in await _sites_of(ctx, {c.site_id for c in rows})}
    data = [
        views.charger(c, site_rows.get(c.site_id) if c.site_id else None, ctx.who) for c in rows
    ]
    return z.Page(Pages=pages, Data=data)


async def _sites_of(ctx: BearerCtx, ids: set[uuid.UUID | None]) -> list[Site]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return []
    return list((await ctx.uow.session.scalars(select(Site).where(Site.id.in_(wanted)))).all())


@router.get("/api/chargers/{charger_id}", summary="Get a charger")
async def get_charger(charger_id: str, ctx: BearerCtx) -> z.Charger:
    """One charger with its settings (`MaxChargeCurrent`, `MinChargeCurrent`,
    `MaxChargePhases`, `OfflineChargeCurrent`, `OfflineChargePhase`,
    `MeterValueInterval`). Id: our UUID or its alias."""
    charger = await _charger(ctx, charger_id)
    site = await ctx.uow.sites.get(charger.site_id) if charger.site_id else None
    return views.charger(charger, site, ctx.who)


@router.get("/api/chargers/{charger_id}/state", summary="A charger's state")
async def get_charger_state(
    charger_id: str, request: Request, ctx: BearerCtx
) -> list[z.StateObservation]:
    """What we know of the charger now as Zaptec observations (`StateId`,
    `ValueAsString`): online (-2), operation mode (710), its minimum, maximum and
    offline settings (510, 511, 520, 522, 523), the current the load manager gives it
    (708) and what its sessions draw per installation phase (507-509)."""
    charger = await _charger(ctx, charger_id)
    view = None
    if charger.site_id is not None:
        view = await site_view(request, request.app.state.db, charger.site_id)
    return views.state(charger, view, utcnow())


@router.post("/api/chargers/{charger_id}/update", summary="Update a charger")
async def update_charger(charger_id: str, body: z.ChargerUpdate, ctx: BearerCtx) -> Response:
    """`MaxChargeCurrent` (0-32 A), `MaxChargePhases` (1 or 3), `MinChargeCurrent`,
    `MeterValueInterval` (s; 0 disables periodic meter values), `OfflineChargeCurrent`
    (-1 automatic, 0-32 A), `OfflineChargePhase` (0 automatic, 1, 2, 4, 7). Null fields
    change nothing. The same rules and service as `PATCH /api/v1/chargers/{id}`; load
    settings rebalance the site, offline settings and the meter interval are pushed to
    the charger. Owner, service or admin (403 for a viewer). Answers 200, empty."""
    charger = await _charger(ctx, charger_id)
    data = validated_as(OurChargerUpdate, body.given(), z.ChargerUpdate.OURS)
    await chargers.update_charger(ctx, charger.id, data)
    return Response(status_code=200)


@router.get("/api/chargerFirmware/installation/{installation_id}", summary="Firmware")
async def get_firmware(installation_id: str, ctx: BearerCtx) -> list[z.ChargerFirmware]:
    """Each charger's firmware as it reported it at boot. chargegrid tracks no firmware
    releases, so `AvailableVersion` is the current one."""
    site = await _site(ctx, installation_id)
    return [
        z.ChargerFirmware(
            ChargerId=str(c.id),
            IsOnline=c.online,
            CurrentVersion=c.firmware_version or "",
            AvailableVersion=c.firmware_version or "",
        )
        for c in await ctx.uow.chargers.for_site(site.id)
    ]


@router.get(
    "/api/installation/{installation_id}/messagingConnectionDetails",
    summary="Live stream (not served)",
    status_code=403,
    response_model=z.ZaptecError,
)
async def messaging_connection_details(installation_id: str, ctx: BearerCtx) -> Response:
    """Zaptec's Azure Service Bus live stream is not served: always 403, which Zaptec
    clients take as "no stream for this user" and poll instead. chargegrid's live events
    are `GET /api/v1/events/stream` and `GET /api/v1/sites/{id}/load/stream`."""
    await _site(ctx, installation_id)  # 404 for an unknown one, as every path here
    message = "no live stream here; use GET /api/v1/events/stream (server-sent events)"
    return render(VendorError(403, message))


# --- what Zaptec clients look up first ------------------------------------------------------


@router.get("/api/constants", summary="Enumerations")
async def constants(_who: BearerCaller) -> dict[str, Any]:
    """The enumerations this surface answers with (user roles, network types, operation
    modes, observation ids), as Zaptec's `GET /api/constants` names them."""
    return {
        "UserRoles": views.USER_ROLES,
        "NetworkTypes": views.NETWORK_TYPES,
        "ChargerOperationModes": views.OPERATION_MODES,
        "ObservationIds": views.STATE_IDS,
    }


@router.get("/.well-known/openid-configuration", summary="OpenID discovery")
async def openid_configuration(request: Request) -> dict[str, Any]:
    """Where to log in, for clients that discover it (e.g. Go's oauth2 with OIDC)."""
    base = str(request.base_url).rstrip("/") + request.scope.get("root_path", "")
    return {
        "issuer": base + "/",
        "token_endpoint": base + "/oauth/token",
        "grant_types_supported": ["password"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
    }


def _field_names() -> dict[str, str]:
    ours = {**z.InstallationUpdate.OURS, **z.ChargerUpdate.OURS}
    return {snake: pascal for pascal, snake in ours.items()}


SURFACE = Surface(
    tag=TAG,
    prefix=PREFIX,
    router=router,
    render_error=render,
    description="Zaptec's installation and charger API (api.zaptec.com) over chargegrid",
    field_names=_field_names(),
    validation_status=400,
)
