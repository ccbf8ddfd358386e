"""Cluster mode's own Prometheus metrics (``/metrics`` of each node); registered only
when this package is imported, i.e. in cluster mode."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
SITES_OWNED = Gauge(
    "chargegrid_cluster_sites_owned", "Sites whose control loop runs on this node (leases held)"
)
SITE_ADOPTIONS = Counter(
    "chargegrid_cluster_site_adoptions_total",
    "Sites this node took over (lease taken, control loop started from held_limits)",
)
SITES_LOST = Counter(
    "chargegrid_cluster_sites_lost_total",
    "Sites this node stopped running: handed on (released) or lease not renewed in time",
)
ADOPTION_SECONDS = Histogram(
    "chargegrid_cluster_site_adoption_seconds",
    "From taking a site's lease to its control loop running (its held limits read)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
