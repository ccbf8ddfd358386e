"""A short fuzz run on each database (``python -m bench.fuzz`` is the long one): 0
InternalError, 0 ERROR logs, every CALL answered with the right kind of answer, no reply
answered, and every acknowledged write readable through the REST API afterwards."""

from __future__ import annotations

import os

import pytest

from tests.fuzz.harness import fuzz

pytestmark = pytest.mark.e2e

FRAMES = int(os.environ.get("CHARGEGRID_FUZZ_FRAMES", "3000"))
SEED = int(os.environ.get("CHARGEGRID_FUZZ_SEED", "13"))


async def test_fuzzed_frames_break_nothing(database_url: str) -> None:
    result = await fuzz(database_url, FRAMES, SEED)
    print(result.summary())
    assert result.tally.frames >= FRAMES
    # The read-back compared something: sessions, their samples and statuses.
    assert min(result.read_back[k] for k in ("sessions", "samples", "statuses")) > 0
    failures = "\n".join(result.failures[:20])
    assert not result.failures, (
        f"{len(result.failures)} failures; reproduce with CHARGEGRID_FUZZ_SEED={SEED} "
        f"CHARGEGRID_FUZZ_FRAMES={FRAMES}\n{failures}"
    )
