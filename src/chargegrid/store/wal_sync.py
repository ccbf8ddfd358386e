"""Durability of SQLite commits, one fsync at a time beside the writer.

With ``synchronous=FULL`` SQLite fsyncs the WAL inside every COMMIT, so the single
writer thread sat idle for the whole flush (~4 ms here) and the next group commit
waited behind it. The OCPP writer connection commits with ``synchronous=NORMAL``
instead (the WAL is written, not flushed) and this class flushes it: one fsync at a
time on its own thread, each covering every commit that had returned before it began.
A charger's answer waits for that fsync (``GroupCommitWriter`` asks ``durable()``), so
nothing is acknowledged before it is on disk, exactly as with FULL; meanwhile the next
batch is already being written.

Checkpoints still flush the WAL before copying it into the database file, as SQLite
does at ``NORMAL``. A failed fsync leaves the file's state unknown (the kernel may drop
the dirty pages), so after one every later ``durable()`` fails too, until a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_wal(database: str) -> None:
    """Flush the WAL of ``database``. Opened afresh each time: SQLite may delete and
    recreate the file, and an old descriptor would flush the wrong one."""
    try:
        _fsync(database + "-wal")
    except FileNotFoundError:
        # SQLite removes the WAL only after checkpointing all of it into the database
        # file; flush that to be sure.
        _fsync(database)


class WalSync:
    def __init__(self, database: str) -> None:
        self.database = database
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ocpp-wal-sync")
        self.committed = 0  # commits that have returned (counted on the event loop)
        self._synced = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._failed: OSError | None = None
        self.syncs = 0

    def commit_done(self) -> None:
        self.committed += 1

    async def durable(self) -> None:
        """Return once every commit counted so far is flushed to disk."""
        if self._failed is not None:
            raise self._failed
        target = self.committed
        if self._synced >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_while_waited())
        await future

    async def _flush_while_waited(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiters:
                # Every commit counted now has returned: this fsync covers them all.
                target = self.committed
                try:
                    await loop.run_in_executor(self._executor, fsync_wal, self.database)
                except OSError as exc:
                    log.critical("fsync of %s failed; commits are no longer durable", exc)
                    self._failed = exc
                    waiters, self._waiters = self._waiters, []
                    for _, future in waiters:
                        if not future.done():
                            future.set_exception(exc)
                    return
                self.syncs += 1
                self._synced = target
                still = []
                for wanted, future in self._waiters:
                    if wanted > target:
                        still.append((wanted, future))
                    elif not future.done():
                        future.set_result(None)
                self._waiters = still
        finally:
            self._flusher = None

    def close(self) -> None:
        self._executor.shutdown()
