"""How many examples a property test draws: a short run in the suite, the long one on
demand (``python -m bench.properties``, results in ``bench/results/properties.md``).

The suite must stay well under 15 minutes on a 2-core machine, so each property test
draws a few dozen to a few hundred cases; ``HYPOTHESIS_PROFILE=long`` gives each its
long count (what the suite drew before) and loads the ``long`` profile of
``tests/conftest.py`` for tests that name no count of their own.
"""

from __future__ import annotations

import os

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
LONG = PROFILE == "long"


def examples(suite: int, long: int) -> int:
    """``suite`` cases in the test suite, ``long`` under ``HYPOTHESIS_PROFILE=long``."""
    return long if LONG else suite
