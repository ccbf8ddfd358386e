"""Configuration use cases: sites, circuits, chargers, EVSEs, connectors, id tags, meters.

Each takes a :class:`ConfigContext` (transaction, bus, caller), applies the model's
rules, commits, and publishes ``config.changed`` so the load manager rebalances.
"""

from chargegrid.services.configure.context import ConfigContext

__all__ = ["ConfigContext"]
