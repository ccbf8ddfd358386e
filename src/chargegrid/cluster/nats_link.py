"""One node's link to NATS: the connection, JetStream, KV buckets, and who the node is.

Everything in cluster mode builds on one :class:`NatsLink` per process::

    identity = NodeIdentity.of(settings)               # node id + API/OCPP addresses
    link = await NatsLink.connect(settings.nats_url, identity, settings.cluster_name)
    kv = await link.bucket("leases", ttl=10.0)         # "<cluster>_leases", made once
    await kv.put("site-1", b"...")                     # nats.js.kv.KeyValue
    subject = link.subject("node", identity.node_id)   # "<cluster>.node.<node id>"
    await link.nc.publish(subject, b"...")             # the nats.aio Client
    link.js                                            # its JetStream context
    link.connected                                     # False while reconnecting
    await link.close()

Names: ``cluster_name`` (default ``chargegrid``) prefixes every subject and bucket, so
two clusters (or two test runs) can share one NATS server without seeing each other.

The connection reconnects for ever (every ``RECONNECT_WAIT_S``); while it is down,
``connected`` is False (``/readyz`` says 503) and what is published waits in the
client's buffer (``PENDING_BYTES``) until it is back. Only the first connect fails
hard: a node that cannot reach NATS at start-up says so on one line and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats
from nats.js.errors import BucketNotFoundError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

    from chargegrid.config import Settings

log = logging.getLogger(__name__)

DEFAULT_CLUSTER = "chargegrid"
RECONNECT_WAIT_S = 0.5
START_ATTEMPTS = 3  # connecting at start-up: then the node exits, saying why
CONNECT_TIMEOUT_S = 2
PENDING_BYTES = 16 * 1024 * 1024  # published while reconnecting, sent once back
# A node id and a cluster name are one subject token and part of a bucket name.
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ClusterConfigError(ValueError):
    """A node id or cluster name NATS cannot carry, or a NATS server we cannot reach."""


def check_name(what: str, value: str) -> str:
    if not NAME.match(value):
        raise ClusterConfigError(
            f"{what} {value!r}: use 1 to 64 letters, digits, '-' or '_' "
            "(it is a NATS subject token and part of KV bucket names)"
        )
    return value


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this node is for the others: its id and where it serves."""

    node_id: str
    api_url: str  # http://host:port (the REST API, /readyz)
    ocpp_url: str  # ws://host:port/ocpp/ (chargers; behind the load balancer)
    started_at: datetime
    # This process, not the node id: a restarted node keeps its id, never its instance.
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, settings: Settings) -> NodeIdentity:
        """From ``--node-id`` (default: host name and API port, stable across restarts)
        and the addresses ``serve`` listens on (a wildcard host: this host's name)."""
        host = settings.host
        if host in {"0.0.0.0", "::", ""}:
            host = socket.gethostname()
        default_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{socket.gethostname()}-{settings.port}")
        node_id = check_name("node id", settings.node_id or default_id[:64])
        return cls(
            node_id=node_id,
            api_url=f"http://{host}:{settings.port}",
            ocpp_url=f"ws://{host}:{settings.ocpp_port}/ocpp/",
            started_at=datetime.now(UTC),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.node_id,
            "api_url": self.api_url,
            "ocpp_url": self.ocpp_url,
            "started_at": self.started_at.isoformat(),
            "instance": self.instance,
        }


Listener = Callable[[], Awaitable[None]]


class NatsLink:
    """The node's NATS connection; see the module docstring for its use."""

    def __init__(self, nc: Client, identity: NodeIdentity, cluster: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.identity = identity
        self.cluster = cluster
        self._buckets: dict[str, KeyValue] = {}
        # Told when the connection comes back (e.g. to re-assert what a restarted
        # NATS forgot, or to resync a view): add with :meth:`on_reconnect`.
        self._reconnected: list[Listener] = []
        self._listening: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(
        cls, url: str, identity: NodeIdentity, cluster: str = DEFAULT_CLUSTER
    ) -> NatsLink:
        check_name("cluster name", cluster)
        link: NatsLink | None = None

        async def disconnected() -> None:
            if not (nc.is_closed or nc.is_draining):  # not our own close
                log.warning("NATS: disconnected; reconnecting")

        async def reconnected() -> None:
            where = nc.connected_url.netloc if nc.connected_url else _safe(url)
            log.info("NATS: reconnected to %s", where)
            if link is not None:
                link._buckets.clear()  # a restarted NATS may have lost them: bind anew
                for listener in list(link._reconnected):
                    link._run(listener)

        async def error(exc: Exception) -> None:
            log.warning("NATS: %s", exc or type(exc).__name__)

        try:
            nc = await nats.connect(
                servers=[url],
                name=f"chargegrid/{identity.node_id}/{os.getpid()}",
                connect_timeout=CONNECT_TIMEOUT_S,
                reconnect_time_wait=RECONNECT_WAIT_S,
                # A few tries at start-up (a NATS starting beside us), then give up:
                # a node that cannot reach NATS says so and exits ...
                max_reconnect_attempts=START_ATTEMPTS,
                allow_reconnect=True,
                pending_size=PENDING_BYTES,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except Exception as exc:  # nats raises its own, OSError and TimeoutError alike
            raise ClusterConfigError(
                f"cannot reach NATS at {_safe(url)}: {exc or type(exc).__name__}"
            ) from None
        nc.options["max_reconnect_attempts"] = -1  # ... once connected, it never gives up
        link = cls(nc, identity, cluster)
        return link

    @property
    def node_id(self) -> str:
        return self.identity.node_id

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    def connection_gauge(self) -> None:
        """``chargegrid_cluster_nats_connected`` follows :attr:`connected` (/metrics)."""
        from chargegrid.cluster.metrics import NATS_CONNECTED

        NATS_CONNECTED.set_function(lambda: 1.0 if self.connected else 0.0)

    def subject(self, *tokens: str) -> str:
        """``<cluster>.<token>...``: every subject this cluster uses."""
        return ".".join((self.cluster, *tokens))

    def bucket_name(self, name: str) -> str:
        return f"{self.cluster}_{name}"

    async def bucket(self, name: str, *, ttl: float | None = None, history: int = 1) -> KeyValue:
        """The KV bucket ``<cluster>_<name>``, created with ``ttl`` (seconds an entry
        lives unless put again; None: for ever) if it does not exist yet. A bucket that
        exists keeps its own settings (the first node made it)."""
        full = self.bucket_name(name)
        kv = self._buckets.get(full)
        if kv is not None:
            return kv
        try:
            kv = await self.js.key_value(full)
        except BucketNotFoundError:
            kv = await self.js.create_key_value(bucket=full, ttl=ttl, history=history)
        self._buckets[full] = kv
        return kv

    async def drop_bucket(self, name: str) -> None:
        """Delete the bucket (tests, and a cluster taken down for good)."""
        full = self.bucket_name(name)
        self._buckets.pop(full, None)
        try:
            await self.js.delete_key_value(full)
        except Exception as exc:  # already gone: fine
            log.debug("bucket %s: %s", full, exc)

    def on_reconnect(self, listener: Listener) -> None:
        """Call ``listener`` (in a task of its own) each time the connection is back."""
        self._reconnected.append(listener)

    def _run(self, listener: Listener) -> None:
        # Not awaited in the client's callback: a listener talks to NATS through this
        # very client, and one listener must not hold up or stop the others.
        async def run() -> None:
            try:
                await listener()
            except Exception:
                log.exception("NATS: reconnect listener failed")

        task = asyncio.get_running_loop().create_task(run())
        self._listening.add(task)
        task.add_done_callback(self._listening.discard)

    async def close(self) -> None:
        """Flush what is still buffered, then close (no reconnecting any more)."""
        if self.nc.is_closed:
            return
        try:
            await self.nc.drain()
        except Exception as exc:  # a connection already down: closing is all we can do
            log.debug("NATS drain: %s", exc)
            await self.nc.close()


def _safe(url: str) -> str:
    """The URL without its password, for a log line."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
