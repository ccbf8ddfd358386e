"""A charger's security through the API (docs/security.md):

* ``POST /chargers/{id}/actions/rotate-password``: a new random Basic auth password,
  told to the charger; the old one works until it connects with the new one.
* ``POST /chargers/{id}/actions/set-security-profile``: raise its profile the OCPP way.
* ``POST /chargers/{id}/actions/get-log``: have it upload its security or diagnostics
  log (GetLog; its LogStatusNotifications are stored as notices).
* ``GET /chargers/{id}/security-events``: its security event log, the charger's own
  (SecurityEventNotification) and the CSMS's (refused handshakes, rotations, changes).

The actions need the charger connected (409 otherwise), answer 504 when it does not
answer in time and 502 on a CallError, like every other action.
"""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, Field

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.common import LenientTimestamp, ListOf, WriteModel
from chargegrid.domain.errors import Conflict
from chargegrid.ocpp.errors import AnswerError
from chargegrid.ocpp.times import ocpp_time
from chargegrid.services import charger_commands as cmd
from chargegrid.services import password_rotation as rotation
from chargegrid.services import security_profile_change as profiles
from chargegrid.services.auth import hash_password
from chargegrid.services.charger_commands import CommandGateway, run_command
from chargegrid.services.configure.chargers import get_charger
from chargegrid.services.security_events import SecurityEvents
from chargegrid.store.pagination import encode_cursor, id_after
from chargegrid.store.security_store import SqlSecurityStore

if TYPE_CHECKING:
    from chargegrid.app import Runtime

router = make_router("charger security", commands_chargers=True)
PATH = "/chargers/{charger_id}/actions"
GATEWAY_HANDLE = "ocpp_gateway"
_log_request_ids = itertools.count(int(time.time()) % 1_000_000)


class PasswordRotated(BaseModel):
    status: str = Field(description="The charger's answer: Accepted or RebootRequired")
    password: str = Field(
        description="The new password, shown only this once (stored hashed): for an "
        "installer who must enter it at the charger by hand, e.g. after a factory reset"
    )
    pending: bool = Field(
        True, description="The old password works too until the charger connects with this"
    )


class SecurityProfileChange(WriteModel):
    security_profile: Literal[1, 2, 3]


class ProfileChanged(BaseModel):
    status: Literal["Accepted"] = "Accepted"
    security_profile: int
    previous: int
    steps: list[dict[str, Any]] = Field(description="Each OCPP call sent and its answer")


class GetLog(WriteModel):
    log_type: Literal["SecurityLog", "DiagnosticsLog"]
    remote_location: Annotated[str, Field(min_length=1, max_length=512)] = Field(
        description="Where the charger uploads the log (ftp://, ftps://, http(s)://)"
    )
    retries: Annotated[int, Field(strict=True, ge=0, le=100)] | None = None
    retry_interval: Annotated[int, Field(strict=True, ge=0, le=86_400)] | None = None
    oldest_timestamp: LenientTimestamp | None = None
    latest_timestamp: LenientTimestamp | None = None


class LogRequested(BaseModel):
    status: str | None = None
    filename: str | None = None
    request_id: int = Field(description="Echoed by the charger's LogStatusNotifications")


class SecurityEventOut(BaseModel):
    id: int
    source: Literal["charger", "csms"]
    type: str
    tech_info: str | None
    severity: Literal["critical", "warning", "info"]
    timestamp: datetime
    received_at: datetime


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _gateway(request: Request) -> CommandGateway | None:
    gateway: CommandGateway | None = _runtime(request).handles.get(GATEWAY_HANDLE)
    return gateway


def _security(request: Request) -> tuple[SqlSecurityStore, SecurityEvents]:
    runtime = _runtime(request)
    store = SqlSecurityStore(runtime.db.engine)
    return store, SecurityEvents(store, runtime.bus)


def _online(request: Request, ocpp_version: str | None, ocpp_id: str, online: bool) -> str:
    """The OCPP version of the charger's connection; 409 when it has none here."""
    if _gateway(request) is None or not online or ocpp_version is None:
        raise Conflict(f"charger {ocpp_id} is offline")
    return ocpp_version


@router.post(f"{PATH}/rotate-password", summary="Rotate a charger's password")
async def rotate_password(
    charger_id: uuid.UUID, request: Request, response: Response, ctx: Ctx
) -> PasswordRotated:
    """A new random password for the charger's HTTP Basic auth (profiles 1 and 2),
    told to it (1.6 AuthorizationKey, 2.0.1 SecurityCtrlr.BasicAuthPassword); stored
    hashed once it accepts, the old one valid until it connects with the new one. The
    answer shows the new password this once (`Cache-Control: no-store`). No body.

    Roles: service, admin

    403 for owner and viewer. 409 when the charger is offline or refuses (nothing
    changed), 504 when it does not answer within 30 s, 502 on a CallError. Recorded in
    the charger's security event log.
    """
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    ctx.who.require_technical("charger passwords")
    version = _online(request, charger.ocpp_version, charger.ocpp_id, charger.online)
    facts = rotation.ChargerFacts(charger.id, charger.ocpp_id, version, charger.password_hash)
    store, events = _security(request)
    try:
        rotated = await rotation.rotate_password(
            _gateway(request), store, events, facts, hash_password
        )
    except AnswerError as exc:
        raise HTTPException(502, f"the charger refused it: {exc}") from None
    response.headers["Cache-Control"] = "no-store"
    return PasswordRotated(status=rotated.status, password=rotated.password)


@router.post(f"{PATH}/set-security-profile", summary="Raise a charger's security profile")
async def set_security_profile(
    charger_id: uuid.UUID, body: SecurityProfileChange, request: Request, ctx: Ctx
) -> ProfileChanged:
    """Raises the charger's security profile the OCPP way (1.6 ChangeConfiguration
    SecurityProfile; 2.0.1 SetNetworkProfile, NetworkConfigurationPriority, Reset
    OnIdle); stored once it accepted. The answer lists each call sent and its answer
    (`steps`). The charger reconnects over wss with the new profile.

    Roles: service, admin

    403 for owner and viewer. 422 for lowering it (OCPP forbids it remotely) or
    profile 2 without a password (`rotate-password` first). 409 when this server
    serves no wss, when a 2.0.1 station has no `--ocpp-public-url` (wss) to be sent to,
    when the charger is offline or refuses (profile unchanged); 504 when it does not
    answer within 30 s, 502 on a CallError.
    """
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    ctx.who.require_technical("security profiles")
    settings = _runtime(request).settings
    server = profiles.Server(
        serves_wss=settings.ocpp_tls_port is not None or bool(settings.trusted_proxies),
        public_url=settings.ocpp_public_url,
    )
    facts = profiles.ChargerFacts(
        charger.id,
        charger.ocpp_id,
        charger.ocpp_version,
        charger.security_profile,
        charger.password_hash is not None,
    )
    profiles.check(facts, body.security_profile, server)  # 422s before the 409
    _online(request, charger.ocpp_version, charger.ocpp_id, charger.online)
    store, events = _security(request)
    try:
        changed = await profiles.change_profile(
            _gateway(request), store, events, facts, body.security_profile, server
        )
    except AnswerError as exc:
        raise HTTPException(502, f"the charger refused it: {exc}") from None
    return ProfileChanged(
        security_profile=changed.security_profile, previous=changed.previous, steps=changed.steps
    )


@router.post(f"{PATH}/get-log", summary="Ask a charger to upload its log")
async def get_log(charger_id: uuid.UUID, body: GetLog, request: Request, ctx: Ctx) -> LogRequested:
    """Asks the charger to upload its security or diagnostics log (`log_type`) to
    `remote_location`, optionally between two times (GetLog, 1.6 security extension and
    2.0.1). The answer is its `status`, the `filename` it will upload and our
    `request_id`; its LogStatusNotifications, carrying `request_id`, are stored as
    notices (`charger.notice` in `GET /events`).

    Roles: service, admin

    403 for owner and viewer. 409 when the charger is offline, 504 when it does not
    answer within 30 s, 502 on a CallError (e.g. a 1.6 charger without the security
    extension).
    """
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    ctx.who.require_technical("charger logs")
    request_id = next(_log_request_ids)
    log: dict[str, Any] = {"remoteLocation": body.remote_location}
    if body.oldest_timestamp is not None:
        log["oldestTimestamp"] = ocpp_time(body.oldest_timestamp)
    if body.latest_timestamp is not None:
        log["latestTimestamp"] = ocpp_time(body.latest_timestamp)
    payload: dict[str, Any] = {"logType": body.log_type, "requestId": request_id, "log": log}
    if body.retries is not None:
        payload["retries"] = body.retries
    if body.retry_interval is not None:
        payload["retryInterval"] = body.retry_interval
    try:
        answer = await run_command(
            _gateway(request),
            charger.ocpp_id,
            cmd.Native("GetLog", payload),
            cmd.ACTION_TIMEOUT,
        )
    except AnswerError as exc:
        raise HTTPException(502, f"the charger refused it: {exc}") from None
    return LogRequested(
        status=answer.get("status"), filename=answer.get("filename"), request_id=request_id
    )


@router.get("/chargers/{charger_id}/security-events", summary="List a charger's security events")
async def list_security_events(
    charger_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ListOf[SecurityEventOut]:
    """The charger's security event log, oldest first, a page at a time: `source`
    `charger` for its SecurityEventNotifications, `csms` for what the server saw or did
    (refused handshakes, password rotations, profile changes), each with `type`,
    `tech_info`, `severity` and times. The same entries appear in `GET /events` as
    `charger.security_event`.

    Roles: viewer, owner, service, admin

    404 for an unknown charger or one outside the token's sites.
    """
    charger = await get_charger(ctx, charger_id)
    store, _ = _security(request)
    rows = await store.page(charger.id, limit + 1, id_after(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return ListOf(
        data=[
            SecurityEventOut(
                id=r.id,
                source=r.source,
                type=r.type,
                tech_info=r.tech_info,
                severity=r.severity,
                timestamp=r.timestamp,
                received_at=r.received_at,
            )
            for r in rows
        ],
        next_cursor=encode_cursor(str(rows[-1].id)) if more else None,
    )
