"""Point lookups that arrive together share one query.

Every OCPP handshake looks its charger up by its OCPP id. When thousands of chargers
reconnect at once, one SELECT per handshake (a statement built, a pooled connection
checked out, a round trip to the database thread) is a large part of what a
connection costs the server. Here a lookup joins a queue; one task drains it with
``WHERE key IN (...)`` per batch. As in the group commit, a lone lookup waits for no
timer (it goes at once), and lookups that arrive while a batch is being read go
together in the next one, so batches grow with load by themselves.

A lookup always sees what was committed before it was asked (its batch's query starts
after it joined). Each caller has its own future, so one caller giving up (a handshake
timing out) leaves the others' answers alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, T]]]


class BatchedLookup(Generic[T]):
    def __init__(self, fetch: Fetch[T], max_batch: int = 500) -> None:
        self._fetch = fetch
        self.max_batch = max_batch
        self._queue: list[tuple[str, asyncio.Future[T | None]]] = []
        self._reading: list[tuple[str, asyncio.Future[T | None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.queries = 0  # how many queries served how many lookups (tests, metrics)
        self.lookups = 0

    async def get(self, key: str) -> T | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T | None] = loop.create_future()
        self._queue.append((key, future))
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._reading = self._queue[: self.max_batch]
            del self._queue[: len(batch)]
            keys = sorted({key for key, _ in batch})
            try:
                found = await self._fetch(keys)
            except Exception as exc:  # every waiter of this batch hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.queries += 1
            self.lookups += len(batch)
            for key, future in batch:
                if not future.done():
                    future.set_result(found.get(key))

    async def close(self) -> None:
        """Stop; a lookup still waiting is cancelled, never left hanging."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in [*self._reading, *self._queue]:
            future.cancel()
        self._queue.clear()
