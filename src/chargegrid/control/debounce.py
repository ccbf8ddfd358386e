"""Coalesce triggers per site: many changes in a few ms become one recompute.

A trigger while a recompute runs marks the site dirty, and one more recompute follows
it, so the last change is never lost and two recomputes of one site never overlap
(the apply engine's two waves must not interleave with another round's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from chargegrid.control.pacing import RoundBudget

log = logging.getLogger(__name__)


class Debouncer:
    def __init__(
        self,
        delay_s: float,
        run: Callable[[str], Awaitable[None]],
        budget: RoundBudget | None = None,
    ) -> None:
        self.delay_s = delay_s
        self._run = run
        self._budget = budget  # see pacing.py: rounds wait while planning is over budget
        self._dirty: set[str] = set()
        self._at_once: set[str] = set()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    def trigger(self, site_id: str, *, at_once: bool = False) -> None:
        """Recompute ``site_id`` after the debounce window; ``at_once``: without the
        window (a change that comes alone, such as an operator's PATCH, has nothing to
        wait for; triggers already queued behind it are still taken in)."""
        if self._closed:
            return
        if at_once:
            self._at_once.add(site_id)
        self._dirty.add(site_id)
        if site_id not in self._workers:
            self._idle.clear()
            self._workers[site_id] = asyncio.get_running_loop().create_task(
                self._worker(site_id), name=f"rebalance:{site_id}"
            )

    def trigger_later(self, site_id: str, delay_s: float) -> None:
        """Recompute once ``delay_s`` from now (a held-back increase, a lapsing TTL);
        an earlier wake-up already planned for the site is kept."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay_s)
        timer = self._timers.get(site_id)
        if timer is not None and not timer.cancelled() and timer.when() <= due:
            return
        if timer is not None:
            timer.cancel()
        self._timers[site_id] = loop.call_at(due, self._wake, site_id)

    def _wake(self, site_id: str) -> None:
        self._timers.pop(site_id, None)
        self.trigger(site_id)

    async def _paced(self) -> None:
        """Wait while the planning budget is in debt (triggers keep coalescing)."""
        if self._budget is None:
            return
        while (wait := self._budget.delay()) > 0 and not self._closed:
            self._budget.held(wait)
            await asyncio.sleep(wait)

    def busy(self) -> bool:
        return bool(self._workers)

    async def wait_idle(self) -> None:
        """Return once no site has a recompute pending or running."""
        await self._idle.wait()

    async def _worker(self, site_id: str) -> None:
        try:
            while site_id in self._dirty and not self._closed:
                if site_id in self._at_once:
                    await asyncio.sleep(0)  # whatever is queued already comes along
                else:
                    await asyncio.sleep(self.delay_s)  # the debounce window itself
                await self._paced()
                self._at_once.discard(site_id)
                self._dirty.discard(site_id)
                try:
                    await self._run(site_id)
                except Exception:  # one bad round must not stop the site's loop
                    log.exception("rebalancing site %s failed", site_id)
        finally:
            self._workers.pop(site_id, None)
            if not self._workers:
                self._idle.set()

    async def cancel(self, site_id: str) -> None:
        """Forget ``site_id``: no pending recompute, and the one running (if any) is
        cancelled and over when this returns (its site went to another node)."""
        self._dirty.discard(site_id)
        self._at_once.discard(site_id)
        timer = self._timers.pop(site_id, None)
        if timer is not None:
            timer.cancel()
        worker = self._workers.get(site_id)
        if worker is not None and worker is not asyncio.current_task():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
