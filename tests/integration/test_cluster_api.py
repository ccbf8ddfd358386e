"""``GET /cluster`` and ``/readyz`` as the API serves them: a single node shows itself;
in cluster mode a node that has lost NATS says so (503) on both, and only service and
admin tokens see the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.integration.conftest import Api, assert_problem

# Nothing here touches the database beyond a token: SQLite alone.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_a_single_node_shows_itself(api: Api) -> None:
    view = await api.ok("GET", "/cluster")
    assert view["mode"] == "single" and "name" not in view
    (node,) = view["nodes"]
    assert node["this_node"] is True and node["id"] == view["node_id"] == "local"
    assert node["chargers"] == 0 and "sites" not in node
    assert (await api.call("GET", "/cluster", role="service")).status_code == 200
    for role in ("owner", "viewer"):
        assert_problem(await api.call("GET", "/cluster", role=role), 403)


@dataclass
class CutOff:
    """A cluster node's handle (cluster.component.ClusterNode) that has lost NATS."""

    node_id: str = "a"

    def ready(self) -> bool:
        return False


async def test_a_node_without_nats_is_not_ready(api: Api) -> None:
    assert (await api.client.get("/readyz")).status_code == 200
    api.app.state.runtime.handles["cluster"] = CutOff()
    try:
        not_ready = await api.client.get("/readyz")
        assert_problem(not_ready, 503)
        assert "NATS" in not_ready.json()["detail"]
        assert_problem(await api.call("GET", "/cluster"), 503)
    finally:
        del api.app.state.runtime.handles["cluster"]
    assert (await api.client.get("/readyz")).status_code == 200
