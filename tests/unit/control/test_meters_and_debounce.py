"""Meter staleness and the per-site debouncer."""

from __future__ import annotations

import asyncio

from chargegrid.control.debounce import Debouncer
from chargegrid.control.meters import MeterBook


def test_meter_fresh_then_stale_and_old_readings_do_not_win() -> None:
    book = MeterBook()
    assert book.fresh("m", 0.0, 60) is None  # never seen: stale
    assert book.record("m", (10.0, 5.0, None), received_at=100.0, age_s=0.0)
    assert book.fresh("m", 130.0, 60) == (10.0, 5.0, None)
    assert book.fresh("m", 161.0, 60) is None
    assert book.expires_at("m", 60) == 160.0
    # A backlog reading stamped 90 s ago is already stale and older than what we hold.
    assert not book.record("m", (1.0, 1.0, 1.0), received_at=120.0, age_s=90.0)
    assert book.fresh("m", 130.0, 60) == (10.0, 5.0, None)


async def test_burst_of_triggers_is_one_run_and_a_trigger_during_a_run_is_one_more() -> None:
    runs: list[str] = []
    release = asyncio.Event()
    started = asyncio.Event()

    async def run(site: str) -> None:
        runs.append(site)
        started.set()
        if len(runs) == 1:
            await release.wait()

    debouncer = Debouncer(0.001, run)
    for _ in range(50):
        debouncer.trigger("a")
    await asyncio.wait_for(started.wait(), 2)
    debouncer.trigger("a")
    debouncer.trigger("a")
    release.set()
    await asyncio.wait_for(debouncer.wait_idle(), 2)
    assert runs == ["a", "a"]
    await debouncer.close()


async def test_sites_run_independently_and_a_failing_run_does_not_stop_the_next() -> None:
    runs: list[str] = []

    async def run(site: str) -> None:
        runs.append(site)
        if len(runs) == 1:
            raise RuntimeError("boom")

    debouncer = Debouncer(0.0, run)
    debouncer.trigger("a")
    debouncer.trigger("b")
    await asyncio.wait_for(debouncer.wait_idle(), 2)
    debouncer.trigger("a")
    await asyncio.wait_for(debouncer.wait_idle(), 2)
    assert sorted(runs) == ["a", "a", "b"]
    await debouncer.close()


async def test_trigger_later_keeps_the_earliest_wakeup() -> None:
    done = asyncio.Event()
    runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def run(site: str) -> None:
        runs.append(loop.time())
        done.set()

    debouncer = Debouncer(0.0, run)
    start = loop.time()
    debouncer.trigger_later("a", 5.0)
    debouncer.trigger_later("a", 0.01)
    debouncer.trigger_later("a", 3.0)
    await asyncio.wait_for(done.wait(), 2)
    assert runs[0] - start < 1.0
    await debouncer.close()
