"""``python -m bench.api_fuzz [--database sqlite|postgres] [--examples N] [--steps S] [--seed K]``

The long version of tests/integration/test_schemathesis.py's stateful run: Schemathesis'
state machine walks N scenarios of up to S requests along the served OpenAPI links, in
process, as an admin, on a fresh migrated database (a temporary SQLite file, or a
database created on the PostgreSQL server of CHARGEGRID_TEST_PG_URL and dropped after).
Every answer is checked for 5xx, undocumented status codes, content types and schema
violations; it prints the counts and each distinct failure with its request, and exits
1 if there was any. Results: bench/results/api_fuzz.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from bench.api_fuzz.workflow import Tally, fuzz_app, seed, walk
from sqlalchemy.engine import make_url

from chargegrid.store.migrate import upgrade

PG_URL = os.environ.get(
    "CHARGEGRID_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _pg_admin(statement: str) -> None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """The URL of an empty database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'fuzz.db'}"
        return
    name = f"cg_api_fuzz_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(tally: Tally, elapsed_s: float) -> str:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    reached = sorted(label for label in tally.succeeded if "{" in label)
    answers: dict[str, list[str]] = {}
    for (label, code), n in sorted(tally.answers.items()):
        answers.setdefault(label, []).append(f"{code}: {n}")
    never = [
        f"{label} ({', '.join(answers[label])})"
        for label in sorted(set(tally.operations) - set(tally.succeeded))
    ]
    lines = [
        f"scenarios {tally.scenarios} (restarts after state drift: {tally.restarts})",
        f"requests {tally.steps}, of which carried linked values {tally.linked_steps}",
        f"operations requested {len(tally.operations)}, answered 2xx {len(tally.succeeded)}"
        f" (on an id: {len(reached)})",
        f"statuses {statuses}",
        "never 2xx:" + "".join(f"\n  {line}" for line in never),
        f"failing requests {tally.failed_steps}, distinct failures {len(tally.failures)}",
        f"elapsed {elapsed_s:.0f} s ({tally.steps / max(elapsed_s, 1e-9):.0f} requests/s)",
    ]
    for key, text in tally.failures.items():
        lines += ["", f"--- {key}", text]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_fuzz")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--examples", type=int, default=500, help="scenarios")
    parser.add_argument("--steps", type=int, default=20, help="max requests per scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--offline", action="store_true", help="no charger answers (actions are 409)"
    )
    args = parser.parse_args()
    with fresh_database(args.database) as url:
        app = fuzz_app(url, chargers_online=not args.offline)
        try:
            asyncio.run(upgrade(app.state.db.engine))
            token = asyncio.run(seed(app))
            started = time.perf_counter()
            tally = walk(app, token, scenarios=args.examples, max_steps=args.steps, seed=args.seed)
            elapsed_s = time.perf_counter() - started
        finally:
            asyncio.run(app.state.db.dispose())
    print(report(tally, elapsed_s), flush=True)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
