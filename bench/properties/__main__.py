"""``python -m bench.properties [pytest args]``: the property tests with their long
example counts (``HYPOTHESIS_PROFILE=long``, see ``tests/hypothesis_budget.py``); the
suite draws a short run of each. Without arguments: every unit test (the property tests
are there; the rest take seconds). Results: ``bench/results/properties.md``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    env = dict(os.environ, HYPOTHESIS_PROFILE="long")
    targets = sys.argv[1:] or ["tests/unit"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--durations=25", *targets]
    code = subprocess.call(command, env=env, cwd=ROOT)
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
