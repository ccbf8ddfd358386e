"""Nothing is answered before it is durable: the group commit waits for the store's
flush, the next batch is written meanwhile, and SQLite's WAL flush covers every commit
made before it (store/wal_sync.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chargegrid.services.charger_ports import PresenceWrite, Write
from chargegrid.services.group_commit import GroupCommitWriter
from chargegrid.store import charger_store as storage
from chargegrid.store import wal_sync
from chargegrid.store.charger_store import SqlChargerStore
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.wal_sync import WalSync

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def presence() -> PresenceWrite:
    return PresenceWrite(uuid.uuid4(), True, NOW)


class GatedStore:
    """Commits at once; a commit becomes durable only when the test opens the gate."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = asyncio.Event()
        self.fail_flush = False

    async def charger(self, ocpp_id: str) -> None:
        return None

    async def register(self, ocpp_id: str) -> Any:
        raise NotImplementedError

    async def id_tag(self, id_tag: str) -> None:
        return None

    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        self.batches.append(len(writes))
        return [len(self.batches)] * len(writes)

    async def durable(self) -> None:
        await self.gate.wait()
        if self.fail_flush:
            raise OSError("disk gone")


async def until(condition: Any, timeout: float = 2.0) -> None:  # noqa: ASYNC109
    """Let the loop run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            pytest.fail("condition not reached")
        await asyncio.sleep(0.001)


async def test_answers_wait_for_the_flush_while_the_next_batch_is_written() -> None:
    store = GatedStore()
    writer = GroupCommitWriter(store)
    writer.start()
    first = asyncio.ensure_future(writer.submit(presence()))
    await until(lambda: store.batches == [1])
    second = [asyncio.ensure_future(writer.submit(presence())) for _ in range(3)]
    # The first batch is committed but not flushed: the next one is written anyway...
    await until(lambda: store.batches == [1, 3])
    # ...and nobody has an answer yet.
    assert not first.done() and not any(f.done() for f in second)
    store.gate.set()
    assert await first == 1
    assert await asyncio.gather(*second) == [2, 2, 2]
    await writer.stop()


async def test_a_failed_flush_fails_the_writes_it_covered() -> None:
    store = GatedStore()
    store.fail_flush = True
    store.gate.set()
    writer = GroupCommitWriter(store)
    writer.start()
    with pytest.raises(OSError, match="disk gone"):
        await writer.submit(presence())
    await writer.stop()


async def test_stop_waits_until_queued_writes_are_durable() -> None:
    store = GatedStore()
    writer = GroupCommitWriter(store)
    writer.start()
    pending = asyncio.ensure_future(writer.submit(presence()))
    await until(lambda: store.batches == [1])
    stopping = asyncio.ensure_future(writer.stop())
    for _ in range(50):  # every step stop() could take without the flush
        await asyncio.sleep(0)
    assert not stopping.done()
    store.gate.set()
    await stopping
    assert pending.done() and pending.result() == 1


async def test_one_fsync_covers_every_commit_made_before_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    flushed: list[str] = []
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def fake_fsync(database: str) -> None:
        flushed.append(database)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()

    monkeypatch.setattr(wal_sync, "fsync_wal", fake_fsync)
    sync = WalSync(str(tmp_path / "db.sqlite"))
    try:
        await sync.durable()  # nothing committed: nothing to flush
        assert flushed == []
        sync.commit_done()
        first = asyncio.ensure_future(sync.durable())
        await until(lambda: len(flushed) == 1)
        # Committed while that fsync runs: it needs a later one.
        sync.commit_done()
        sync.commit_done()
        late = [asyncio.ensure_future(sync.durable()) for _ in range(2)]
        release.set()
        await first
        await asyncio.gather(*late)
        assert len(flushed) == 2  # the two late commits shared one fsync
        await sync.durable()
        assert len(flushed) == 2
    finally:
        sync.close()


async def test_after_a_failed_fsync_nothing_is_durable_any_more(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(database: str) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(wal_sync, "fsync_wal", broken)
    sync = WalSync(str(tmp_path / "db.sqlite"))
    try:
        sync.commit_done()
        with pytest.raises(OSError):
            await sync.durable()
        monkeypatch.setattr(wal_sync, "fsync_wal", lambda database: None)
        with pytest.raises(OSError):
            await sync.durable()
    finally:
        sync.close()


async def test_sqlite_store_flushes_the_wal_before_a_commit_counts_as_durable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    flushed: list[str] = []
    real = wal_sync.fsync_wal

    def recording(database: str) -> None:
        real(database)
        flushed.append(database)

    monkeypatch.setattr(wal_sync, "fsync_wal", recording)
    path = tmp_path / "ocpp.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db.engine)
    store = SqlChargerStore(db.engine)
    try:
        charger = await store.register("CP-DURABLE")
        await store.apply([PresenceWrite(charger.id, True, NOW, "1.6")])
        assert flushed == []
        await store.durable()
        assert flushed == [str(path)]
        assert (tmp_path / "ocpp.db-wal").exists()
    finally:
        await store.close()
        await db.engine.dispose()


async def test_a_long_wal_starts_over_once_the_writer_finishes_the_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(storage, "WAL_RESTART_FRAMES", 8)
    path = tmp_path / "ocpp.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db.engine)
    await db.engine.dispose()  # only the store's writer uses the file from here on
    store = SqlChargerStore(db.engine)
    try:
        charger = await store.register("CP-WAL")
        for _ in range(20):
            await store.apply([PresenceWrite(charger.id, True, NOW, "1.6")])
        frames, _ = storage._checkpoint(str(path))
        assert frames >= 20
        await store.checkpoint()
        await store.apply([PresenceWrite(charger.id, False, NOW)])  # finishes it, then writes
        await store.apply([PresenceWrite(charger.id, True, NOW)])
        frames_after, _ = storage._checkpoint(str(path))
        assert frames_after < 8  # written from the start of the WAL again
        await store.durable()
        assert await store.charger("CP-WAL") is not None
    finally:
        await store.close()
        await db.engine.dispose()
