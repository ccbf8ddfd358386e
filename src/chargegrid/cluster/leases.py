"""Leases in a JetStream KV bucket: at most one holder per key, and a holder that cannot
renew in time stops using its lease *before* anybody else can take it.

The bucket's TTL (``max_age``) is the lease: NATS removes a key's entry ``ttl_s`` after
its last write, and only then can another node ``create`` it (create-if-absent). The
holder renews with ``update(last=revision)`` every ``renew_every_s``; a renewal that
finds another revision means the lease was lost.

**Why two owners can never overlap.** The server writes a renewal no earlier than the
moment we sent it, so the entry lives at least until ``sent + ttl_s``. We stop using the
lease at ``sent + ttl_s - stop_margin_s`` (``deadline``) of the last renewal that
succeeded, by a timer and again by :meth:`Leases.holds`, which the control loop checks
before every frame it writes. Nobody can create the key before it expires, so the old
holder stopped ``stop_margin_s`` before the new one could start. The margin covers the
event loop stalling and clock-rate differences, not clocks being set (monotonic time on
our side, the server's own clock on its side).

NATS must keep the bucket on file storage (the default): a NATS restart then keeps each
entry and its age, where a memory bucket would forget every lease at once while their
holders still count on them (docs/cluster.md, failure cases).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

log = logging.getLogger(__name__)


class KeyValueLike(Protocol):
    """The part of ``nats.js.kv.KeyValue`` the leases use."""

    async def create(self, key: str, value: bytes) -> int: ...

    async def update(self, key: str, value: bytes, last: int | None = None) -> int: ...

    async def delete(self, key: str, last: int | None = None) -> bool: ...

    async def get(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    ttl_s: float = 6.0  # the bucket's TTL: how long a lease outlives its holder
    renew_every_s: float = 1.5
    # Stop this long before the entry can expire (at the latest). With the defaults a
    # holder survives two lost renewals and stops 4 s after the last good one.
    stop_margin_s: float = 2.0
    request_timeout_s: float = 1.0  # one KV request; a slow one counts as failed

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.ttl_s - self.stop_margin_s:
            raise ValueError("renew_every_s must be positive and below ttl_s - stop_margin_s")


@dataclass(slots=True)
class _Held:
    revision: int
    deadline: float  # monotonic: stop using the lease at this moment
    live: bool = True  # False once the deadline passed: lost here, maybe still ours there


Callback = Callable[[str], Awaitable[None]]


async def _noop(_key: str) -> None:
    return None


class Leases:
    """The leases this node holds in one bucket.

    ``on_acquired(key)`` runs after a lease is taken (start using it); ``on_lost(key)``
    when it ends: released, taken by another node, or not renewed in time. ``on_lost`` is
    awaited before a release deletes the entry, so a graceful hand-over never overlaps.
    """

    def __init__(
        self,
        kv: KeyValueLike,
        holder: str,
        settings: LeaseSettings | None = None,
        *,
        on_acquired: Callback = _noop,
        on_lost: Callback = _noop,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kv = kv
        self.holder = holder
        self.settings = settings or LeaseSettings()
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.clock = clock
        self._held: dict[str, _Held] = {}
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._lost_tasks: set[asyncio.Future[None]] = set()
        self.renewals_failed = 0

    # --- what others read -------------------------------------------------------------

    def holds(self, key: str) -> bool:
        """True while the lease on ``key`` may be used: checked before every command."""
        held = self._held.get(key)
        return held is not None and held.live and self.clock() < held.deadline

    def held(self) -> list[str]:
        return [k for k in self._held if self.holds(k)]

    def deadline(self, key: str) -> float | None:
        held = self._held.get(key)
        return held.deadline if held is not None and held.live else None

    async def holder_of(self, key: str) -> str | None:
        """Who holds ``key`` according to the bucket (None: nobody)."""
        try:
            entry = await asyncio.wait_for(self.kv.get(key), self.settings.request_timeout_s)
        except KeyNotFoundError:
            return None
        value = getattr(entry, "value", None)
        if not value:
            return None
        try:
            holder = json.loads(value).get("holder")
        except ValueError:
            return None
        return holder if isinstance(holder, str) else None

    # --- taking and giving back -------------------------------------------------------

    async def acquire(self, key: str) -> bool:
        """Take ``key`` if nobody holds it; True when it is ours (also when it was)."""
        if self.holds(key):
            return True
        sent = self.clock()
        try:
            revision = await asyncio.wait_for(
                self.kv.create(key, self._value()), self.settings.request_timeout_s
            )
        except KeyWrongLastSequenceError:
            return False  # somebody holds it
        except Exception as exc:  # NATS away or slow: not ours
            log.info("lease %s: could not take it: %s", key, exc or type(exc).__name__)
            return False
        self._held[key] = _Held(revision, sent + self._usable_s())
        self._arm()
        return await self._started(key)

    async def _started(self, key: str) -> bool:
        """Run ``on_acquired``; a lease its user could not start with is given back
        (taken again, by us or another node, on a later try)."""
        try:
            await self.on_acquired(key)
        except Exception:
            log.exception("lease %s: could not start with it; released", key)
            await self.release(key)
            return False
        return True

    async def release(self, key: str) -> None:
        """Stop using ``key`` (``on_lost`` is awaited), then delete its entry so the next
        holder need not wait for the TTL."""
        held = self._held.pop(key, None)
        if held is None:
            return
        if held.live:
            await self.on_lost(key)
        try:
            await asyncio.wait_for(
                self.kv.delete(key, last=held.revision), self.settings.request_timeout_s
            )
        except Exception as exc:  # taken meanwhile, or NATS away: the TTL frees it
            log.info("lease %s: release left to the TTL: %s", key, exc or type(exc).__name__)

    async def release_all(self) -> None:
        for key in list(self._held):
            await self.release(key)

    # --- renewing ---------------------------------------------------------------------

    async def renew(self) -> None:
        """Renew every lease once, concurrently. A lease whose deadline passed (lost
        here) is renewed too when its entry is still ours: it is then taken afresh
        (``on_acquired`` again, after its ``on_lost``)."""
        keys = list(self._held)
        await asyncio.gather(*(self._renew(key) for key in keys))
        self._arm()

    async def _renew(self, key: str) -> None:
        held = self._held.get(key)
        if held is None:
            return
        sent = self.clock()
        try:
            revision = await asyncio.wait_for(
                self.kv.update(key, self._value(), last=held.revision),
                self.settings.request_timeout_s,
            )
        except KeyWrongLastSequenceError:
            # Another node holds it now (ours expired, or was deleted and re-created).
            if self._held.get(key) is held:
                del self._held[key]
                if held.live:
                    held.live = False
                    await self.on_lost(key)
            return
        except Exception as exc:  # NATS away or slow: the watchdog stops us in time
            self.renewals_failed += 1
            log.warning("lease %s: renewal failed: %s", key, exc or type(exc).__name__)
            return
        if self._held.get(key) is not held:
            # Released while we renewed: the release's delete may have come first and
            # this renewal written the entry again; delete it (the next holder need not
            # wait for the TTL).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.kv.delete(key, last=revision), self.settings.request_timeout_s
                )
            return
        held.revision = revision
        held.deadline = sent + self._usable_s()
        if not held.live:
            held.live = True
            await self._started(key)

    async def run(self) -> None:
        """Renew until cancelled."""
        while True:
            await asyncio.sleep(self.settings.renew_every_s)
            try:
                await self.renew()
            except Exception:  # a bug in a callback must not stop the renewals
                log.exception("lease renewal round failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"leases:{self.holder}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop renewing; ``release``: hand every lease back (graceful shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if release:
            await self.release_all()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for task in list(self._lost_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the watchdog -----------------------------------------------------------------

    def _arm(self) -> None:
        """Wake at the earliest deadline of a live lease, to stop using it then."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        deadlines = [h.deadline for h in self._held.values() if h.live]
        if not deadlines:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, min(deadlines) - self.clock())
        self._watchdog = loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        self._watchdog = None
        now = self.clock()
        for key, held in self._held.items():
            if held.live and now >= held.deadline:
                held.live = False
                log.warning("lease %s: not renewed in time; stopped using it", key)
                task = asyncio.ensure_future(self.on_lost(key))
                self._lost_tasks.add(task)
                task.add_done_callback(self._lost_tasks.discard)
        self._arm()

    def _usable_s(self) -> float:
        return self.settings.ttl_s - self.settings.stop_margin_s

    def _value(self) -> bytes:
        return json.dumps({"holder": self.holder}).encode()
