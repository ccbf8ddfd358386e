"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

``database_url`` is parametrised over both backends. Each test gets its own database:
on SQLite a copy of a migrated file, on PostgreSQL ``CREATE DATABASE ... TEMPLATE`` of a
database migrated once per run (fast, and never shared with a concurrent run).
Where PostgreSQL does not answer, its tests skip (and fail under CI=true).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from chargegrid.bus.memory import EventBus
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from tests.hypothesis_budget import PROFILE
from tests.services import port_open, require

T = TypeVar("T")

# Property tests draw a short run in the suite; HYPOTHESIS_PROFILE=long is the long run
# (tests/hypothesis_budget.py; python -m bench.properties).
settings.register_profile("long", max_examples=1000, deadline=None)
settings.load_profile(PROFILE)

PG_URL = os.environ.get(
    "CHARGEGRID_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last. Playwright's sync API keeps its event loop marked as
    running in the main thread while its session fixture lives, and every asyncio test
    after it would fail with "cannot be called from a running event loop"."""
    browser_dir = Path(str(config.rootpath)) / "tests" / "browser"
    items.sort(key=lambda item: Path(str(item.path)).is_relative_to(browser_dir))


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync fixture code, on its own thread and loop,
    so it never touches the event loop pytest-asyncio runs the test in."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


def _pg_admin_dsn() -> str:
    url = make_url(PG_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_execute(*statements: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_url_for(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    url = make_url(PG_URL)
    require(
        port_open(url.host or "127.0.0.1", url.port or 5432),
        f"PostgreSQL does not answer at {url.host}:{url.port}",
    )
    name = f"cg_tmpl_{secrets.token_hex(6)}"
    run_sync(pg_execute(f'CREATE DATABASE "{name}"'))
    try:
        run_sync(_migrate(pg_url_for(name)))
        yield name
    finally:
        run_sync(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "chargegrid.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"cg_test_{secrets.token_hex(6)}"
    run_sync(pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield pg_url_for(name)
    finally:
        run_sync(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()
