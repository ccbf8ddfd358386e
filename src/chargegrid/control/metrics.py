"""Prometheus metrics of the control loop (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from chargegrid.control.apply import EvseKey, Outcome, StepKind

REBALANCES = Counter("chargegrid_rebalances_total", "Site recomputations run by the control loop")
REBALANCE_FAILURES = Counter(
    "chargegrid_rebalance_failures_total", "Recomputations that raised (configuration errors)"
)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PLAN_SECONDS = Histogram(
    "chargegrid_rebalance_plan_seconds",
    "From trigger to plan ready (debounce, snapshot, allocation)",
    buckets=_LATENCY_BUCKETS,
)
SENT_SECONDS = Histogram(
    "chargegrid_rebalance_sent_seconds",
    "From trigger to the round's last SetChargingProfile sent",
    buckets=_LATENCY_BUCKETS,
)
ACKED_SECONDS = Histogram(
    "chargegrid_rebalance_acknowledged_seconds",
    "From trigger to the round's last charger answer",
    buckets=_LATENCY_BUCKETS,
)
PROFILES = Counter(
    "chargegrid_charging_profiles_total",
    "SetChargingProfile calls by kind and outcome",
    ["kind", "outcome"],
)

LIMIT_VIOLATIONS = Counter(
    "chargegrid_limit_violations_total",
    "Cars found drawing above their acknowledged limit for longer than the reaction time",
)
NOT_FOLLOWING_LIMIT = Gauge(
    "chargegrid_sessions_not_following_limit",
    "Sessions now planned at their measured draw because they do not follow their limit",
)
MEASURED_READINGS = Counter(
    "chargegrid_session_readings_total",
    "Session meter readings by where their current came from (current, power, energy, none)",
    ["source"],
)


class MetricsObserver:
    """Counts every profile's outcome (``ApplyObserver``)."""

    def profile_sent(self, key: EvseKey, kind: StepKind, at: float) -> None:
        pass  # counted with its outcome, so a profile is never counted twice

    def profile_answered(self, key: EvseKey, kind: StepKind, outcome: Outcome, at: float) -> None:
        PROFILES.labels(kind.value, outcome.value).inc()
