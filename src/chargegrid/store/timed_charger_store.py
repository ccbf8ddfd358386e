"""The SQL charger store, timed for ``/metrics``: each group commit's batch (its size and
how long its transaction took) and each wait for durability. Kept out of the store
itself so the benchmarks and tests that build a bare store measure nothing extra."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from chargegrid.metrics import DB_DURABLE_SECONDS, DB_WRITE_BATCH, DB_WRITE_SECONDS
from chargegrid.services.charger_ports import Write
from chargegrid.store.charger_store import SqlChargerStore


class TimedSqlChargerStore(SqlChargerStore):
    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        started = time.perf_counter()
        try:
            return await super().apply(writes)
        finally:
            DB_WRITE_SECONDS.observe(time.perf_counter() - started)
            DB_WRITE_BATCH.observe(len(writes))

    async def durable(self) -> None:
        started = time.perf_counter()
        try:
            await super().durable()
        finally:
            DB_DURABLE_SECONDS.observe(time.perf_counter() - started)
