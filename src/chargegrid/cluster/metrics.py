"""Cluster mode's own Prometheus metrics (``/metrics`` of each node); registered only
when this package is imported, i.e. in cluster mode."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

COMMANDS = Counter(
    "chargegrid_cluster_commands_total",
    "Commands to chargers on other nodes: routed (sent from here) or served (taken here "
    "for a charger this node holds), by outcome (ok or the error's kind)",
    ["direction", "outcome"],
)
EVENTS = Counter(
    "chargegrid_cluster_events_total",
    "Bus events bridged over NATS: sent, received (from other nodes), dropped",
    ["direction"],
)
NATS_CONNECTED = Gauge(
    "chargegrid_cluster_nats_connected", "1 while this node is connected to NATS"
)
