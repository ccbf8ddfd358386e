"""Prometheus metrics of the server (served at ``/metrics``), beside the control loop's
own in ``control/metrics.py``. Names follow the client's conventions: units in the name,
``_total`` on counters; labels stay bounded (route templates, not paths; an OCPP action
the schemas do not know is counted as ``unknown``).

Counters are incremented where things happen (the OCPP connection, the access log, the
rate limiter, the charger store's writes). What other components already count or hold
(webhook deliveries, the live load of each site) is read when Prometheus scrapes, by
:class:`RuntimeCollector`, so nothing is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# --- HTTP -----------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "chargegrid_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "chargegrid_http_request_duration_seconds",
    "From a request's arrival to its answer's first byte, by method and route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "chargegrid_http_rate_limited_total",
    "Requests answered 429 by the rate limit, by bucket (token, auth_failed)",
    ["bucket"],
)

# --- OCPP -----------------------------------------------------------------------------

CHARGERS_CONNECTED = Gauge(
    "chargegrid_chargers_connected",
    "Chargers with an open OCPP connection, by negotiated OCPP version",
    ["ocpp_version"],
)
OCPP_MESSAGES = Counter(
    "chargegrid_ocpp_messages_total",
    "OCPP CALLs by direction (received: the charger called us; sent: we called it), "
    "action and outcome (result, call_error, internal_error, invalid_answer)",
    ["direction", "action", "outcome"],
)
OCPP_BAD_FRAMES = Counter(
    "chargegrid_ocpp_bad_frames_total", "OCPP frames that were not valid OCPP-J"
)

# --- database -------------------------------------------------------------------------

DB_WRITE_SECONDS = Histogram(
    "chargegrid_db_write_seconds",
    "One group commit of chargers' writes: the batch's transaction, committed",
    buckets=_LATENCY_BUCKETS,
)
DB_WRITE_BATCH = Histogram(
    "chargegrid_db_write_batch_writes",
    "Writes per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
DB_DURABLE_SECONDS = Histogram(
    "chargegrid_db_durable_seconds",
    "Waiting for committed writes to be on disk (SQLite WAL sync; 0 on PostgreSQL)",
    buckets=_LATENCY_BUCKETS,
)

# Bound the action label: a charger may send any string as an action.
_children: dict[tuple[str, str, str], Any] = {}


def count_ocpp(direction: str, action: str, outcome: str, known: bool = True) -> None:
    """One OCPP CALL's outcome. Children are cached: this runs for every message."""
    key = (direction, action if known else "unknown", outcome)
    child = _children.get(key)
    if child is None:
        child = _children[key] = OCPP_MESSAGES.labels(*key)
    child.inc()


# --- read at scrape time --------------------------------------------------------------

_PHASES = ("l1", "l2", "l3")
_LOAD_FIELDS = (
    ("limit", "chargegrid_load_limit_amperes", "Limit per site/circuit node and grid phase"),
    ("allocated", "chargegrid_load_allocated_amperes", "Current allocated to chargers"),
    ("measured", "chargegrid_load_measured_amperes", "Measured current (where metered)"),
    ("unmanaged", "chargegrid_load_unmanaged_amperes", "Load chargegrid does not steer"),
)


class RuntimeCollector(Collector):
    """Reads, per scrape, what components count and hold: the webhook dispatcher's
    deliveries, and the latest live-load view of each site (``site.load_changed``)."""

    def __init__(self) -> None:
        self.webhooks: Any = None  # a WebhookDispatcher, once it runs
        self.views: dict[str, Mapping[str, Any]] = {}

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        webhooks = self.webhooks
        if webhooks is not None:
            deliveries = CounterMetricFamily(
                "chargegrid_webhook_deliveries",
                "Webhook events delivered (2xx) or given up on (refused 4xx, or retries spent)",
                labels=["outcome"],
            )
            deliveries.add_metric(["delivered"], float(webhooks.delivered))
            deliveries.add_metric(["failed"], float(webhooks.failed))
            yield deliveries
        yield from self._load()

    def _load(self) -> Iterator[GaugeMetricFamily]:
        labels = ["site_id", "node_id", "node_kind", "phase"]
        families = {
            field: GaugeMetricFamily(name, text, labels=labels)
            for field, name, text in _LOAD_FIELDS
        }
        for site_id, view in list(self.views.items()):
            for node in view.get("nodes", []):
                phases = node.get("phases") or {}
                for phase in _PHASES:
                    values = phases.get(phase) or {}
                    for field, family in families.items():
                        value = values.get(field)
                        if isinstance(value, int | float) and math.isfinite(value):
                            family.add_metric(
                                [site_id, str(node.get("id")), str(node.get("kind")), phase],
                                float(value),
                            )
        yield from families.values()

    def describe(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        return iter(())  # collected lazily: the families depend on what is running


RUNTIME = RuntimeCollector()
REGISTRY.register(RUNTIME)
