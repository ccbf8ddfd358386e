"""The load history as an app component (``app.components_for``): the recorder's bus
subscription and writer, and the downsampling/retention job, as three tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from chargegrid.services.history_job import HistoryJob
from chargegrid.services.history_recorder import TOPICS, HistoryRecorder
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.db import Database
from chargegrid.store.history_store import SqlHistoryStore

log = logging.getLogger(__name__)

HANDLE = "load_history"
CONTROL_LOOP = "control_loop"  # control.component.HANDLE, not imported: no cycle
# Views and readings waiting for the recorder; only the latest per site matters.
QUEUE_SIZE = 10_000


class _Settings(Protocol):
    @property
    def history(self) -> HistorySettings: ...


class RuntimeLike(Protocol):
    settings: Any
    db: Database
    bus: Any
    handles: dict[str, Any]


@dataclass
class LoadHistory:
    recorder: HistoryRecorder
    job: HistoryJob


async def _job_forever(job: HistoryJob, every_s: float) -> None:
    while True:
        try:
            await job.run_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("load history: downsampling failed; trying again in %.0f s", every_s)
        await asyncio.sleep(every_s)  # the period itself


@asynccontextmanager
async def load_history(runtime: RuntimeLike) -> AsyncIterator[LoadHistory | None]:
    settings: HistorySettings = runtime.settings.history
    if not settings.enabled:
        yield None
        return
    store = SqlHistoryStore(runtime.db.engine)

    def current_view(site_id: str) -> Mapping[str, Any] | None:
        loop = runtime.handles.get(CONTROL_LOOP)
        if loop is None:
            return {}  # no loop in this process: only the bus says what changed
        view: Mapping[str, Any] | None = loop.view(site_id)
        return view

    history = LoadHistory(
        HistoryRecorder(store, settings, current_view=current_view), HistoryJob(store, settings)
    )
    # Each node records what it computed itself (cluster mode): the history is shared.
    subscription = runtime.bus.subscribe(TOPICS, maxsize=QUEUE_SIZE, local_only=True)
    tasks = [
        asyncio.create_task(history.recorder.consume(subscription)),
        asyncio.create_task(history.recorder.run()),
        asyncio.create_task(_job_forever(history.job, settings.job_s)),
    ]
    runtime.handles[HANDLE] = history
    try:
        yield history
    finally:
        runtime.handles.pop(HANDLE, None)
        subscription.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # What came in since the last flush (best effort: the database may be gone).
        while (event := subscription.get_nowait()) is not None:
            history.recorder.offer(event.topic, event.payload)
        try:
            await history.recorder.flush()
        except Exception:
            log.warning("load history: the last flush at shutdown failed", exc_info=True)
