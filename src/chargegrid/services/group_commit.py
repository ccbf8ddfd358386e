"""Group commit: many connections' writes in one database transaction.

Every write a charger must not lose (transactions, meter values) waits here until it
is committed; only then does its CALLRESULT go out. One task drains the queue: while
a commit is in flight the next writes pile up and go together in the following one,
so batches grow with load and a lone write waits for no timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from chargegrid.services.charger_ports import ChargerStore, Write

log = logging.getLogger(__name__)


class GroupCommitWriter:
    def __init__(self, store: ChargerStore, max_batch: int = 1000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.writes = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Commit what is queued, then end."""
        if self._task is None:
            return
        task, self._task = self._task, None
        while self._queue:
            await self._flush()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def submit(self, write: Write) -> Any:
        """Queue ``write``; return its result once it is committed (or raise)."""
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
            await self._one_by_one(batch)
            return
        self.commits += 1
        self.writes += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[Write, asyncio.Future[Any]]]) -> None:
        for write, future in batch:
            try:
                (result,) = await self.store.apply([write])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            self.commits += 1
            self.writes += 1
            if not future.done():
                future.set_result(result)
