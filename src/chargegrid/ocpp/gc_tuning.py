"""Cyclic garbage collection for a server that handles thousands of small messages a
second.

Each OCPP message allocates a few dozen short-lived containers (the parsed frame, its
samples, the event, futures). With CPython's defaults a young-generation collection ran
every 700 of them and the older generations, which hold every connection, cached
statement and compiled schema, were traversed again and again: 10 % of the event
loop's samples and 6 % of the writer's, and the p99 latency doubled whenever a full
collection ran. Freezing what start-up built and collecting the young generation less
often cut that (bench/results/ocpp.md: +8 % calls per CPU-second, p99 halved).
Reference counting still frees everything that is not in a cycle at once; cycles wait
a little longer.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 100)


def calm_gc() -> None:
    """Keep what exists now out of every collection and collect the young generation
    less often. ``chargegrid serve`` calls it before serving (``app.serve`` freezes
    again once every component has started); the bench server after start-up."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
