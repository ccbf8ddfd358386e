"""``GET /api/v1/server/ocpp``: where chargers connect, so the dashboard can show the exact
URL to type into a new charger.

Only the server knows its OCPP ports and whether it serves wss (``--ocpp-port``,
``--ocpp-tls-port``, ``--ocpp-public-url``, a TLS proxy in ``--trusted-proxies``); the
browser knows the host name the operator reached it at. The dashboard joins the two
(js/charger-form.js) and says where each part came from.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from chargegrid.api.deps import Who
from chargegrid.api.problems import PROBLEM_RESPONSES
from chargegrid.config import Settings

router = APIRouter(tags=["auth"], responses=PROBLEM_RESPONSES)

OCPP_PATH = "/ocpp/"


class OcppEndpoint(BaseModel):
    path: str = Field(description="the URL path before the charger's ocpp_id")
    ws_port: int = Field(description="plain WebSocket port (--ocpp-port)")
    wss_port: int | None = Field(description="TLS port (--ocpp-tls-port); null: none")
    public_url: str | None = Field(
        description="the wss URL chargers reach us at, without the ocpp_id (--ocpp-public-url)"
    )
    behind_tls_proxy: bool = Field(
        description="a TLS-terminating proxy may forward chargers (--trusted-proxies)"
    )
    bind_host: str = Field(description="the address the servers listen on (--host)")
    auto_register: bool = Field(
        description="unknown chargers may connect and wait Pending (--auto-register)"
    )


@router.get("/api/v1/server/ocpp", response_model=OcppEndpoint, summary="Where chargers connect")
async def ocpp_endpoint(request: Request, who: Who) -> OcppEndpoint:
    """The OCPP endpoint as this server is configured: path, ws and wss ports, the public
    wss URL behind a proxy, the bind address, whether unknown chargers may register. The
    dashboard builds the exact URL to type into a charger from it.

    Roles: viewer, owner, service, admin (ports are not secrets; tokens still are)

    401 without a valid token.
    """
    settings: Settings = request.app.state.settings
    return OcppEndpoint(
        path=OCPP_PATH,
        ws_port=settings.ocpp_port,
        wss_port=settings.ocpp_tls_port,
        public_url=settings.ocpp_public_url,
        behind_tls_proxy=bool(settings.trusted_proxies),
        bind_host=settings.host,
        auto_register=settings.auto_register,
    )
