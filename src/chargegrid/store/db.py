"""Engine and session factory, usable from HTTP handlers, the OCPP server and the CLI.

SQLite runs in WAL mode with ``synchronous=FULL``: the OCPP server acknowledges a
transaction only after its commit, and WAL with NORMAL may lose the last commits on
power loss, which would turn an acknowledged StartTransaction into a lost one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    # Concurrent writers (API and OCPP in one process) wait instead of failing.
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


# How long a caller waits for a pooled connection before it fails. SQLAlchemy's 30 s
# failed boots in a reconnect storm (issue 13: "QueuePool limit of size 5 overflow 10
# reached", an InternalError to the charger): thousands of handshakes, boots and
# control-loop reads queue for a few connections, and each gets one in its turn (the
# queue is FIFO); waiting longer is what a charger wants, failing costs it a reboot.
POOL_TIMEOUT_S = 300.0

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """``postgresql://…`` and ``sqlite:///…`` as people write them, with the async
    driver this process uses (asyncpg, aiosqlite); other URLs unchanged."""
    parsed = make_url(url)
    backend = "postgresql" if parsed.drivername == "postgres" else parsed.drivername
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        return url
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, pooled: bool = True) -> AsyncEngine:
    """``pooled=False`` opens a connection per use: for callers that run each request on
    a new event loop (sync test clients), where a pooled connection would outlive its loop."""
    url = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if not pooled:
        kwargs["poolclass"] = NullPool
    elif is_sqlite(url):
        kwargs |= {"pool_timeout": POOL_TIMEOUT_S}
    else:
        kwargs |= {
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 20,
            "pool_timeout": POOL_TIMEOUT_S,
        }
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


class Database:
    """Owns the engine; hands out sessions. One per process, shared by every component."""

    def __init__(self, url: str, *, echo: bool = False, pooled: bool = True) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pooled=pooled)
        # expire_on_commit=False: objects stay readable after commit, e.g. to build a
        # response or an event without another round trip.
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
