"""The fuzz run, shared by the test suite (a few thousand frames) and ``python -m
bench.fuzz`` (100,000 and more): the real OCPP server and the REST API in process on a
migrated database, 1.6 and 2.0.1 stations made through the API, all fuzzing at once (so
one station's poison shares group commits with the others' valid writes), some deleted
through the API while connected; then every acknowledged write is read back through
the API, and no ERROR log or traceback may have been written."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy import delete as delete_rows
from sqlalchemy import update

from chargegrid.app import Runtime, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.ocpp.component import ocpp_server
from chargegrid.services.auth import Role, create_token
from chargegrid.store.charger_store import SqlChargerStore, chargers
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork
from tests.e2e.test_actions_api import Stack
from tests.fuzz.generator import Script
from tests.fuzz.ledger import Ledger
from tests.fuzz.station import Budget, Station, Tally


@dataclass
class Result:
    tally: Tally
    stations: int
    commits: int
    writes: int
    failed_batches: int
    refused_in_shared: int
    errors_logged: list[str] = field(default_factory=list)
    readback: list[str] = field(default_factory=list)
    read_back: Counter[str] = field(default_factory=Counter)

    @property
    def failures(self) -> list[str]:
        return self.tally.failures + self.errors_logged + self.readback

    def summary(self) -> str:
        t = self.tally
        lines = [
            f"seed {t.seed}: {t.frames} frames from {self.stations} stations, "
            f"{self.writes} writes in {self.commits} group commits ({self.failed_batches} "
            f"failed and retried one by one; {self.refused_in_shared} writes of deleted "
            "chargers refused inside batches shared with others), "
            f"server CALLs {dict(t.server_calls)}, {len(self.failures)} failures",
            "frames per class:",
        ]
        for kind, count in sorted(t.by_kind.items()):
            answers = ", ".join(
                f"{label} {n}" for (k, label), n in sorted(t.by_kind_answer.items()) if k == kind
            )
            lines.append(f"  {kind:<12} {count:>7}  ({answers})")
        lines.append(f"read back and compared: {dict(self.read_back)}")
        lines.append("answers:")
        lines += [f"  {label:<30} {n:>7}" for label, n in sorted(t.by_answer.items())]
        if self.failures:
            lines.append("failures (first line of each):")
            lines += [f"  {failure.splitlines()[0][:400]}" for failure in self.failures]
        return "\n".join(lines)


class ErrorLog(logging.Handler):
    """Every ERROR record (and any record with a traceback) while the run lasts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            text = f"{record.levelname} {record.name}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.records.append(text)


@asynccontextmanager
async def fuzz_stack(url: str) -> AsyncIterator[Stack]:
    """The REST API (in process) and the OCPP server (127.0.0.1, a free port) on the
    migrated database at ``url``; the same wiring as tests/e2e/test_actions_api.py's
    ``stack``, on any database, rate limit off."""
    settings = Settings(database_url=url, ocpp_port=0, rate_limit=0)
    db = Database(url)
    runtime = Runtime(settings, db, EventBus())
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    transport = httpx.ASGITransport(app=build_app(settings, runtime=runtime))
    try:
        async with (
            ocpp_server(runtime, SqlChargerStore(db.engine)) as central,
            httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        ):
            yield Stack(http, runtime, token, central.server.port)
    finally:
        await db.dispose()


async def fuzz(url: str, frames: int, seed: int, stations: int = 24) -> Result:
    """Fuzz the server on the migrated database at ``url`` with ``frames`` frames."""
    errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.records.append(f"asyncio: {context}"))
    try:
        async with fuzz_stack(url) as stack:
            return await _run(stack, url, frames, seed, stations, errors)
    finally:
        loop.set_exception_handler(previous)
        root.removeHandler(errors)


async def _run(
    stack: Stack, url: str, frames: int, seed: int, stations: int, errors: ErrorLog
) -> Result:
    rng = random.Random(seed)
    site = await stack.ok("POST", "/sites", {"name": "Fuzz", "max_current": 63})
    tally = Tally(seed)
    budget = Budget(frames)
    fleet: list[Station] = []
    for n in range(stations):
        version = "1.6" if n % 2 == 0 else "2.0.1"
        name = f"FZ{n:03d}"
        charger = await stack.ok(
            "POST", "/chargers", {"ocpp_id": name, "site_id": site["id"], "meter_value_interval": 0}
        )
        tags = [f"{name}C{c}" for c in (1, 2)]
        for tag in tags:
            await stack.ok("POST", "/id-tags", {"id_tag": tag})
        script = Script(random.Random(rng.getrandbits(64)), version, name, tags)
        ledger = Ledger(version, uuid.UUID(charger["id"]))

        async def delete(charger_id: str = charger["id"]) -> None:
            response = await stack.call("DELETE", f"/chargers/{charger_id}")
            assert response.status_code == 204, response.text

        async def delete_behind(charger_id: str = charger["id"]) -> None:
            async with stack.runtime.db.engine.begin() as conn:
                await conn.execute(
                    delete_rows(chargers).where(chargers.c.id == uuid.UUID(charger_id))
                )

        # Two stations in eight (both versions) are deleted halfway: through the API
        # (its socket is closed) or behind the server's back (the socket stays).
        doomed = n % 8 in (2, 3)
        behind = doomed and n % 16 >= 8
        share = frames // stations
        fleet.append(
            Station(
                f"ws://127.0.0.1:{stack.port}/ocpp/{name}",
                script,
                ledger,
                tally,
                budget,
                delete=delete if doomed else None,
                delete_behind=delete_behind if behind else None,
                doom_after=rng.randint(share // 4, share // 2) if doomed else None,
            )
        )
    # No post-boot configuration exchange: the stations answer no CALLs of ours.
    async with stack.runtime.db.engine.begin() as conn:
        await conn.execute(update(chargers).values(config_sync="applied"))
    await asyncio.gather(*(station.run() for station in fleet))
    central = stack.runtime.handles["ocpp"]
    writer = central.writer
    result = Result(
        tally,
        stations,
        writer.commits,
        writer.writes,
        writer.failed_batches,
        writer.refused_in_shared,
    )
    for station in fleet:
        if station.doom_after is None:
            for problem in await station.ledger.verify(stack):
                result.readback.append(f"[{station.name}, seed {seed}] {problem}")
            result.read_back.update(station.ledger.checked)
    result.errors_logged = list(errors.records)
    return result
