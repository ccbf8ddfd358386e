"""The planning budget (control/pacing.py): free at rest, a bounded share in a storm,
and a debouncer that waits on it coalesces the triggers that came meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargegrid.control.debounce import Debouncer
from chargegrid.control.pacing import PacingSettings, RoundBudget


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_at_rest_a_round_waits_for_nothing() -> None:
    clock = Clock()
    budget = RoundBudget(PacingSettings(share=0.25, burst_s=0.5), clock)
    for _ in range(10):
        budget.spend(0.01)
        assert budget.delay() == 0.0
        clock.t += 1.0


def test_debt_is_paid_at_the_share() -> None:
    clock = Clock()
    budget = RoundBudget(PacingSettings(share=0.25, burst_s=0.5), clock)
    budget.spend(0.6)  # 0.1 s beyond the burst
    assert budget.delay() == pytest.approx(0.4)  # 0.1 s of planning at a quarter of a core
    clock.t += 0.4
    assert budget.delay() == 0.0


@given(
    costs=st.lists(st.floats(min_value=0.0, max_value=0.05), min_size=1, max_size=200),
    share=st.floats(min_value=0.05, max_value=1.0),
)
def test_rounds_that_obey_the_delays_use_at_most_the_share_plus_the_burst(
    costs: list[float], share: float
) -> None:
    clock = Clock()
    settings = PacingSettings(share=share, burst_s=0.2)
    budget = RoundBudget(settings, clock)
    start = clock.t
    for cost in costs:
        clock.t += budget.delay()
        budget.spend(cost)
        clock.t += cost
    # Planning time ever spent <= what accrued + the burst + the last round's own cost.
    assert sum(costs) <= share * (clock.t - start) + settings.burst_s + costs[-1] + 1e-9


def test_a_nonsense_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        RoundBudget(PacingSettings(share=0.0), Clock())


async def test_triggers_during_the_wait_make_one_round() -> None:
    loop = asyncio.get_running_loop()
    budget = RoundBudget(PacingSettings(share=1.0, burst_s=0.0), loop.time)
    rounds: list[str] = []
    done = asyncio.Event()

    async def run(site: str) -> None:
        rounds.append(site)
        if len(rounds) == 1:
            budget.spend(0.05)  # the first round "took" 50 ms: the next waits ~50 ms
        else:
            done.set()

    debouncer = Debouncer(0.0, run, budget)
    debouncer.trigger("S", at_once=True)
    await debouncer.wait_idle()
    for _ in range(20):  # twenty chargers ready while the budget is in debt
        debouncer.trigger("S", at_once=True)
        await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 5.0)
    await debouncer.wait_idle()
    assert rounds == ["S", "S"]
    assert budget.waited_s > 0.0
    await debouncer.close()
