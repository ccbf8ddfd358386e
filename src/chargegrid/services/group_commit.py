"""Group commit: many connections' writes in one database transaction.

Every write a charger must not lose (transactions, meter values) waits here until it
is durable; only then does its CALLRESULT go out. One task drains the queue: while a
transaction is being written the next writes pile up and go together in the following
one, so batches grow with load and a lone write waits for no timer.

Committing and making durable are two steps (``ChargerStore.apply`` then
``ChargerStore.durable``): the next batch is written while the previous one waits for
its flush to disk, and one flush covers every batch committed before it started. On
SQLite that takes the ~4 ms fsync off the writer's critical path.

When a batch fails (one write breaks a constraint, or names a row another transaction
deleted), nothing of it is committed and the store's caches keep only what committed
before; each write is then tried on its own, so only the bad one fails and every
other one is acknowledged once it is stored. A write the store refuses without
failing the batch (a charger deleted meanwhile: :class:`ChargerGone`) is raised to
its submitter, never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from chargegrid.services.charger_ports import ChargerGone, ChargerStore, Write

log = logging.getLogger(__name__)

Pending = list[tuple[Write, asyncio.Future[Any]]]


class GroupCommitWriter:
    def __init__(self, store: ChargerStore, max_batch: int = 1000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: Pending = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()
        self.commits = 0
        self.writes = 0
        # Batches that failed and were retried one by one, and writes refused as
        # ChargerGone inside a batch that also held other writes: the fuzzer reports
        # both to show poison shared batches with good writes (bench/results/fuzz.md).
        self.failed_batches = 0
        self.refused_in_shared = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Commit what is queued, wait until it is durable, then end."""
        if self._task is None:
            return
        task, self._task = self._task, None
        while self._queue:
            await self._flush()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def submit(self, write: Write) -> Any:
        """Queue ``write``; return its result once it is durable (or raise)."""
        if self._task is None:
            raise RuntimeError("group commit writer is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._flush()

    async def _flush(self) -> None:
        batch = self._queue[: self.max_batch]
        del self._queue[: len(batch)]
        try:
            results = await self.store.apply([w for w, _ in batch])
        except Exception:
            # One bad write must not fail its neighbours: retry each on its own.
            log.exception("group commit of %d writes failed; retrying one by one", len(batch))
            self.failed_batches += 1
            await self._one_by_one(batch)
            return
        self.commits += 1
        self.writes += len(batch)
        self._settle_when_durable(batch, results)

    async def _one_by_one(self, batch: Pending) -> None:
        for write, future in batch:
            try:
                (result,) = await self.store.apply([write])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            self.commits += 1
            self.writes += 1
            self._settle_when_durable([(write, future)], [result])

    def _settle_when_durable(self, batch: Pending, results: list[Any]) -> None:
        async def settle() -> None:
            try:
                await self.store.durable()
            except Exception as exc:
                log.exception("%d committed writes could not be made durable", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, ChargerGone):
                    if len(batch) > 1:
                        self.refused_in_shared += 1
                    future.set_exception(result)
                else:
                    future.set_result(result)

        task = asyncio.get_running_loop().create_task(settle())
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)
