"""``python -m bench.compat_fuzz [--database sqlite|postgres] [--examples N]``

Schemathesis over every vendor surface's own OpenAPI document (``/compat/<vendor>/
openapi.json``, ``chargegrid.compat.surfaces``): N valid and N invalid generated
requests per operation, in process, as an admin, on a fresh migrated database seeded as
``bench.api_fuzz`` seeds it. Each answer is checked for 5xx and for status codes,
content types and bodies the document does not describe (a vendor error shape leaking
problem+json is such a failure). Prints each operation's result and exits 1 on any
failure. Results: bench/results/compat_fuzz.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import schemathesis
from bench.api_fuzz.__main__ import fresh_database
from bench.api_fuzz.workflow import CHECKS, fuzz_app, seed
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from chargegrid.compat import surfaces
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compat_fuzz")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    failures = 0
    started = time.monotonic()
    with fresh_database(args.database) as url:
        asyncio.run(_migrate(url))
        app = fuzz_app(url)
        headers = {"Authorization": f"Bearer {asyncio.run(seed(app))}"}
        for surface in surfaces():
            schema = schemathesis.openapi.from_asgi(surface.prefix + "/openapi.json", app)
            for result in schema.get_all_operations():
                operation = result.ok()
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                    @settings(
                        max_examples=args.examples,
                        deadline=None,
                        database=None,
                        suppress_health_check=list(HealthCheck),
                    )
                    @given(case=operation.as_strategy(generation_mode=mode))
                    def check(case: schemathesis.Case) -> None:
                        case.call_and_validate(headers=headers, checks=CHECKS)

                    label = f"{surface.prefix} {operation.label} {mode.value}"
                    try:
                        check()
                    except Unsatisfiable:  # e.g. no invalid request to an operation without input
                        print(f"--   {label}: no such request can be made", flush=True)
                    except Exception as exc:  # a failure group: report it, go on
                        failures += 1
                        print(f"FAIL {label}\n{exc}\n", flush=True)
                    else:
                        print(f"ok   {label}", flush=True)
        asyncio.run(app.state.db.dispose())
    print(f"{failures} failing operation/mode pairs in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
