"""Cluster mode's settings: flags and environment, node ids NATS can carry, and the
refusal to run a cluster on SQLite (before anything is started)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargegrid.cli import main
from chargegrid.cluster.nats_link import ClusterConfigError, NatsLink, NodeIdentity, check_name
from chargegrid.config import Settings


def test_environment_turns_cluster_mode_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEGRID_NATS_URL", "nats://n:4222")
    monkeypatch.setenv("CHARGEGRID_NODE_ID", "node-7")
    monkeypatch.setenv("CHARGEGRID_CLUSTER_NAME", "east")
    settings = Settings.from_env(node_id="node-8")  # a flag beats the environment
    assert (settings.nats_url, settings.node_id, settings.cluster_name) == (
        "nats://n:4222",
        "node-8",
        "east",
    )
    assert Settings().nats_url is None  # the default: one node, no NATS


def test_node_identity_defaults_to_host_and_port() -> None:
    identity = NodeIdentity.of(Settings(host="0.0.0.0", port=8181, ocpp_port=9001))
    host = socket.gethostname()
    assert identity.node_id.endswith("-8181") and "." not in identity.node_id
    assert identity.api_url == f"http://{host}:8181"
    assert identity.ocpp_url == f"ws://{host}:9001/ocpp/"
    assert (
        NodeIdentity.of(Settings(node_id="a")).instance
        != NodeIdentity.of(Settings(node_id="a")).instance
    )  # one per process start, whatever the id


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "x" * 65, "nœud", "a>"])
def test_names_nats_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(ClusterConfigError, match="letters, digits"):
        check_name("node id", bad)


def test_a_cluster_on_sqlite_is_refused_before_it_starts(tmp_path: Path) -> None:
    database = tmp_path / "c.db"
    argv = ["serve", "--nats-url", "nats://127.0.0.1:1", "--database-url"]
    with pytest.raises(SystemExit, match="needs PostgreSQL"):
        main([*argv, f"sqlite+aiosqlite:///{database}"])
    assert not database.exists()  # nothing created, nothing migrated


async def test_a_nats_that_does_not_answer_at_start_up_is_an_error_not_a_hang() -> None:
    identity = NodeIdentity("a", "http://x", "ws://x/ocpp/", datetime.now(UTC))
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ClusterConfigError, match=f"cannot reach NATS at nats://127.0.0.1:{port}"):
        await NatsLink.connect(f"nats://127.0.0.1:{port}", identity, "t")
