"""The long OCPP fuzz run: the test suite's fuzzer (``tests/fuzz``) at full size.

    .venv/bin/python -m bench.fuzz --frames 100000 --database sqlite|postgres --seed N

The real OCPP server and the REST API in process, on a fresh migrated database (a SQLite
file under bench/.cache, or a throw-away PostgreSQL database at CHARGEGRID_TEST_PG_URL);
1.6 and 2.0.1 stations fuzz it at once; afterwards every acknowledged write is read
back through the API. Prints the counts per frame class and per answer, and exits 1 if
any invariant failed (each failure names its station, the seed and the frames it sent).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.conftest import pg_execute, pg_url_for
from tests.fuzz.harness import fuzz

from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

CACHE = Path("bench/.cache")


def empty_sqlite_file() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "fuzz.db"
    for leftover in ("", "-wal", "-shm"):  # a stale WAL must not meet a new database
        Path(f"{path}{leftover}").unlink(missing_ok=True)
    return path


@asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A migrated database of ``kind`` for one run, removed afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{empty_sqlite_file()}"
    else:
        name = f"cg_fuzz_{secrets.token_hex(6)}"
        await pg_execute(f'CREATE DATABASE "{name}"')
        url = pg_url_for(name)
    db = Database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()
    try:
        yield url
    finally:
        if kind == "postgres":
            await pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run(frames: int, database: str, seed: int, stations: int) -> int:
    async with fresh_database(database) as url:
        began = time.monotonic()
        result = await fuzz(url, frames, seed, stations)
        took = time.monotonic() - began
    print(result.summary())
    print(f"database {database}, {took:.1f} s (read back included)")
    if result.failures:
        print(f"\nFAILED: {len(result.failures)} failures (seed {seed}); the first ones:")
        for failure in result.failures[:10]:
            print(failure)
        return 1
    print("OK: 0 InternalError, 0 ERROR logs, every CALL answered, every write read back")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--stations", type=int, default=48)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.frames, args.database, args.seed, args.stations)))


if __name__ == "__main__":
    main()
