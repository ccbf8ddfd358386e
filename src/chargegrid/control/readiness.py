"""A charger that just became ready (spoke first, a BootNotification accepted): its
failsafe at once, and who waits for its first limits (docs/ocpp.md, the boot sequence).

At a thousand chargers booting, a site's rounds run back to back (~0.2 s each): a ready
charger's failsafe goes out from the site's last computed failsafes, outside the round,
instead of after the round in progress and the next one's read and plan. Its live limits
still come from the round its readiness triggered, never before the failsafe's frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from chargegrid.control.apply import ApplyEngine, EvseKey, FailsafeTarget
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import ChargerSpec


class Greeter:
    def __init__(self, engine: ApplyEngine, replan: Callable[[str], None]) -> None:
        self._engine = engine
        self._replan = replan  # trigger a site's round
        # Chargers that just became ready, and who waits for their first limits.
        self._first_limits: dict[str, asyncio.Event] = {}
        # Failsafes sent on readiness, until answered; each with an event set once its
        # frame is on the socket.
        self._greeting: dict[EvseKey, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def greet(self, site_id: str, charger: ChargerSpec, failsafe: Mapping[EvseKey, Limit]) -> None:
        """Send ``charger`` its failsafe now, where none is acknowledged yet."""
        if not self._engine.steerable(charger.id):
            return
        targets = [
            FailsafeTarget(key, charger.ocpp_id, failsafe[key], charger.caps)
            for e in charger.evses
            if (key := EvseKey(charger.id, e.number)) in failsafe
            and not self._engine.failsafe_known(key)
            and key not in self._greeting
        ]
        if not targets:
            return
        written = asyncio.Event()
        self._greeting.update((t.key, written) for t in targets)

        async def install() -> None:
            # Set before the frames are written, but nothing else runs until they are:
            # the wave's first step puts them on their sockets without waiting.
            written.set()
            try:
                report = await self._engine.install_failsafes(targets)
            finally:
                for t in targets:
                    self._greeting.pop(t.key, None)
            if report.reductions_failed:
                self._replan(site_id)  # held at what it may draw: re-plan around it

        task = asyncio.create_task(install(), name=f"control:greet:{charger.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def in_flight(self, key: EvseKey) -> bool:
        """A failsafe sent on readiness and not answered yet (the round leaves it)."""
        return key in self._greeting

    async def written(self) -> None:
        """Until every failsafe sent on readiness is on its socket: a live limit must not
        overtake it."""
        for event in {e for e in self._greeting.values() if not e.is_set()}:
            await event.wait()

    def waiting(self, chargers: Iterable[ChargerSpec]) -> list[str]:
        """Those of ``chargers`` whose first limits somebody waits for (and that may be
        sent calls): the round about to run sends them."""
        return [
            c.id for c in chargers if c.id in self._first_limits and self._engine.steerable(c.id)
        ]

    async def first_limits(self, charger_id: str) -> None:
        """Until the first round after ``charger_id`` became ready has sent its failsafe
        and live limits (and had their answers or timeouts). Callers bound the wait."""
        event = self._first_limits.setdefault(charger_id, asyncio.Event())
        await event.wait()

    def limits_sent(self, charger_id: str) -> None:
        event = self._first_limits.pop(charger_id, None)
        if event is not None:
            event.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
