"""``GET /cluster``: the nodes of a cluster (``chargegrid serve --nats-url``), their
addresses, chargers and sites; on a single node, that node alone (docs/cluster.md).

Read from the nodes' own heartbeats (``cluster.nodes``): a node that died drops out
within the presence TTL (5 s). Imports nothing of NATS unless the node runs a cluster.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field

from chargegrid.api.deps import Who
from chargegrid.api.problems import PROBLEM_JSON, Problem
from chargegrid.api.routers.common import make_router
from chargegrid.domain.errors import Forbidden
from chargegrid.services.auth import Role

router = make_router("cluster")
CLUSTER_HANDLE = "cluster"  # cluster.component.HANDLE
GATEWAY_HANDLE = "ocpp_gateway"
STARTED_AT = datetime.now(UTC)  # this process (a single node's started_at)


class ClusterNode(BaseModel):
    id: str = Field(description="The node's id (`--node-id`)")
    api_url: str = Field(description="Where the node serves the REST API")
    ocpp_url: str = Field(description="Where the node takes chargers (behind the load balancer)")
    started_at: datetime
    last_seen_at: datetime = Field(description="Its last heartbeat (every second)")
    chargers: int = Field(description="Chargers connected to this node now")
    sites: list[str] | None = Field(
        None,
        description="Ids of the sites whose control loop this node runs (absent: this "
        "build runs no site leases)",
    )
    this_node: bool = Field(description="The node that answered this request")


class ClusterView(BaseModel):
    mode: Literal["single", "cluster"]
    name: str | None = Field(
        None, description="The cluster's name (NATS prefix); absent on a single node"
    )
    node_id: str = Field(description="The node that answered")
    nats_connected: bool | None = Field(
        None, description="Whether the answering node is connected to NATS; absent on a single node"
    )
    nodes: list[ClusterNode]


@router.get(
    "/cluster",
    summary="The cluster's nodes",
    response_model=ClusterView,
    response_model_exclude_none=True,
    responses={
        503: {
            "model": Problem,
            "description": "This node has lost NATS: it cannot see the others",
            "content": {PROBLEM_JSON: {}},
        }
    },
)
async def cluster_view(request: Request, who: Who) -> dict[str, Any]:
    """Every live node: its id, API and OCPP addresses, start time, last heartbeat,
    how many chargers it holds and which sites it owns. A node that stopped or died is
    gone from the list within 5 s. On a single node (no `--nats-url`) the list holds
    that node alone.

    Roles: service, admin (a site-scoped token sees only its own sites' ids)

    403 for owner and viewer. 503 when this node has lost NATS (it cannot see the
    others).
    """
    if who.role not in (Role.ADMIN, Role.SERVICE):
        raise Forbidden("the cluster view needs the service or admin role")
    runtime = request.app.state.runtime
    cluster = runtime.handles.get(CLUSTER_HANDLE)
    if cluster is None:
        return _single(runtime)
    if not cluster.ready():
        raise HTTPException(503, "this node is not connected to NATS: it cannot see the others")
    from chargegrid.cluster.nodes import live_nodes

    nodes = await live_nodes(cluster.link)
    scope = None if who.site_ids is None else {str(s) for s in who.site_ids}
    return {
        "mode": "cluster",
        "name": cluster.link.cluster,
        "node_id": cluster.node_id,
        "nats_connected": cluster.ready(),
        "nodes": [
            {
                "id": n.id,
                "api_url": n.api_url,
                "ocpp_url": n.ocpp_url,
                "started_at": n.started_at,
                "last_seen_at": n.last_seen_at,
                "chargers": n.chargers,
                "sites": n.sites
                if scope is None or n.sites is None
                else [s for s in n.sites if s in scope],
                "this_node": n.id == cluster.node_id,
            }
            for n in nodes
        ],
    }


def _single(runtime: Any) -> dict[str, Any]:
    settings = runtime.settings
    gateway = runtime.handles.get(GATEWAY_HANDLE)
    node_id = settings.node_id or "local"
    host = settings.host if settings.host not in {"0.0.0.0", "::", ""} else socket.gethostname()
    return {
        "mode": "single",
        "name": None,
        "node_id": node_id,
        "nats_connected": None,
        "nodes": [
            {
                "id": node_id,
                "api_url": f"http://{host}:{settings.port}",
                "ocpp_url": f"ws://{host}:{settings.ocpp_port}/ocpp/",
                "started_at": STARTED_AT,
                "last_seen_at": datetime.now(UTC),
                "chargers": len(gateway.connected()) if gateway is not None else 0,
                "this_node": True,
            }
        ],
    }
