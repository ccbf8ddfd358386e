"""A transport fed by the test, and an in-memory ChargerStore.

(tests/unit is not a package, so this directory must not be one either: it would be
imported as `ocpp` and hide the ocpp library.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from chargegrid.ocpp.connection import TransportClosed
from chargegrid.services.charger_ports import (
    ChargerRecord,
    IdTagInfo,
    IdTagRecord,
    Metered,
    MeterWrite,
    Started,
    StartWrite,
    Stopped,
    StopWrite,
    Write,
)


class FakeTransport:
    """Frames the test pushes come out of ``recv``; what the connection sends is kept."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.sent: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    def push(self, frame: bytes | str | list[Any]) -> None:
        self.inbox.put_nowait(orjson.dumps(frame) if isinstance(frame, list) else frame)

    async def next_sent(self, timeout: float = 2.0) -> Any:  # noqa: ASYNC109
        return orjson.loads(await asyncio.wait_for(self.sent.get(), timeout))

    async def recv(self) -> bytes | str:
        frame = await self.inbox.get()
        if frame is None:
            raise TransportClosed
        return frame

    async def send(self, data: bytes) -> None:
        if self.closed:
            raise TransportClosed
        self.sent.put_nowait(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True
        self.inbox.put_nowait(None)


class MemoryStore:
    """Enough of the store for the handlers; transaction ids count from 1."""

    def __init__(self, registration: str = "Accepted") -> None:
        self.registration = registration
        self.tags: dict[str, IdTagRecord] = {}
        self.batches: list[list[Write]] = []
        self.sessions: dict[int, StartWrite] = {}
        self.stopped: set[int] = set()
        self.fail_on: type[Write] | None = None
        self.durable_calls = 0
        self.record = ChargerRecord(uuid.uuid4(), "CP1", registration, None, 60, "pending")

    async def charger(self, ocpp_id: str) -> ChargerRecord | None:
        return self.record if ocpp_id == self.record.ocpp_id else None

    async def register(self, ocpp_id: str) -> ChargerRecord:
        self.record = ChargerRecord(uuid.uuid4(), ocpp_id, "Pending", None, None, "pending")
        return self.record

    async def id_tag(self, id_tag: str) -> IdTagRecord | None:
        return self.tags.get(id_tag)

    async def durable(self) -> None:
        self.durable_calls += 1

    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        if self.fail_on is not None and any(isinstance(w, self.fail_on) for w in writes):
            raise RuntimeError("constraint violated")
        self.batches.append(list(writes))
        results: list[Any] = []
        for w in writes:
            if isinstance(w, StartWrite):
                tx = next((t for t, s in self.sessions.items() if s == w), None)
                repeated = tx is not None
                if tx is None:
                    tx = len(self.sessions) + 1
                    self.sessions[tx] = w
                results.append(Started(uuid.uuid4(), tx, IdTagInfo("Accepted"), repeated))
            elif isinstance(w, StopWrite):
                repeated = w.transaction_id in self.stopped
                self.stopped.add(w.transaction_id)
                results.append(Stopped(uuid.uuid4(), 1, 10.0, None, repeated))
            elif isinstance(w, MeterWrite):
                results.append(Metered(None, None))
            else:
                results.append(None)
        return results
