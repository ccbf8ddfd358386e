"""store/batched_lookup.py: lookups that arrive together share one query, a lone one
goes at once, and no waiter is ever left hanging or handed another's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from chargegrid.store.batched_lookup import BatchedLookup


class Table:
    def __init__(self, rows: Mapping[str, int]) -> None:
        self.rows = dict(rows)
        self.queries: list[list[str]] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def fetch(self, keys: Sequence[str]) -> dict[str, int]:
        self.queries.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return {k: self.rows[k] for k in keys if k in self.rows}


async def test_a_burst_of_lookups_is_one_query_and_each_gets_its_own_answer() -> None:
    table = Table({f"CP{i}": i for i in range(300)})
    lookup = BatchedLookup(table.fetch)
    keys = [f"CP{i}" for i in range(300)] + ["UNKNOWN", "CP7"]
    answers = await asyncio.gather(*(lookup.get(k) for k in keys))
    assert answers == [*range(300), None, 7]
    assert len(table.queries) == 1
    assert lookup.queries == 1 and lookup.lookups == len(keys)


async def test_a_lone_lookup_goes_at_once_and_sees_what_was_written_before() -> None:
    table = Table({})
    lookup = BatchedLookup(table.fetch)
    assert await lookup.get("CP1") is None
    table.rows["CP1"] = 1  # registered since
    assert await asyncio.wait_for(lookup.get("CP1"), 1.0) == 1
    assert table.queries == [["CP1"], ["CP1"]]


async def test_lookups_during_a_read_go_together_in_the_next_batch() -> None:
    table = Table({"A": 1, "B": 2, "C": 3})
    table.gate = asyncio.Event()
    lookup = BatchedLookup(table.fetch, max_batch=500)
    first = asyncio.ensure_future(lookup.get("A"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first batch is being read
    later = [asyncio.ensure_future(lookup.get(k)) for k in ("B", "C")]
    table.gate.set()
    assert await asyncio.gather(first, *later) == [1, 2, 3]
    assert table.queries == [["A"], ["B", "C"]]


async def test_a_failed_read_fails_its_waiters_and_the_next_batch_still_runs() -> None:
    table = Table({"A": 1})
    lookup = BatchedLookup(table.fetch)
    table.fail = True
    with pytest.raises(RuntimeError, match="database down"):
        await lookup.get("A")
    table.fail = False
    assert await lookup.get("A") == 1


async def test_one_waiter_giving_up_leaves_the_others_their_answer() -> None:
    table = Table({"A": 1})
    table.gate = asyncio.Event()
    lookup = BatchedLookup(table.fetch)
    impatient = asyncio.ensure_future(lookup.get("A"))
    patient = asyncio.ensure_future(lookup.get("A"))
    await asyncio.sleep(0)
    impatient.cancel()
    table.gate.set()
    assert await patient == 1
    assert impatient.cancelled()


async def test_close_cancels_what_still_waits() -> None:
    table = Table({"A": 1})
    table.gate = asyncio.Event()
    lookup = BatchedLookup(table.fetch)
    waiting = asyncio.ensure_future(lookup.get("A"))
    await asyncio.sleep(0)
    await lookup.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
