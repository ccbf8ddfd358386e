"""Token-bucket rate limiting per client: pure, no framework, with an injectable clock.

Each key (an API token, or a client address's failed authentications) owns a bucket of
``burst`` tokens that refills at ``rate`` tokens a second. A request takes one token; an
empty bucket says how long until the next one, which the API turns into ``429`` with
``Retry-After``. A refused request takes nothing, so a client that waits as told gets in.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """``tokens`` left as of ``stamp`` (clock seconds); refilled lazily on each take."""

    tokens: float
    stamp: float

    def take(self, now: float, rate: float, burst: float) -> float:
        """Take one token at ``now``: 0.0 if granted, else the seconds until one is due."""
        # A clock that steps back (it should not: monotonic) refills nothing rather than
        # draining the bucket.
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(burst, self.tokens + elapsed * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate


@dataclass(frozen=True, slots=True)
class Quota:
    """What a key has left, for the ``RateLimit`` header: whole requests it may send now,
    and whole seconds until its bucket is full again."""

    remaining: int
    reset_s: int


def retry_after_seconds(wait_s: float) -> int:
    """``Retry-After`` is whole seconds (RFC 9110); never 0, which invites a busy retry."""
    return max(1, math.ceil(wait_s))


class RateLimiter:
    """Buckets by key, at most ``max_keys`` of them (least recently used dropped first).

    Dropping a bucket hands that key a full burst again; with far more distinct keys
    than ``max_keys`` in one refill period that is a leak, but a bounded one, where an
    unbounded dict would let spoofed addresses grow memory without limit.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must not be negative (0 turns limiting off)")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        # Cluster mode (``share``): what was granted here since the last ``drain_taken``,
        # for the other nodes to charge to their own buckets.
        self._taken: dict[str, int] | None = None

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    def take(self, key: str) -> float:
        """One request by ``key``: 0.0 if allowed, else the seconds until it would be."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._bucket(key, now)
        wait = bucket.take(now, self.rate, self.burst)
        if wait == 0.0 and self._taken is not None:
            self._taken[key] = self._taken.get(key, 0) + 1
        return wait

    def _bucket(self, key: str, now: float) -> TokenBucket:
        """``key``'s bucket, full if new, as the most recently used."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.burst, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    # --- cluster mode: one budget per key across nodes ---------------------------------

    def share(self) -> None:
        """Count what is granted, so it can be charged on the other nodes."""
        if self._taken is None:
            self._taken = {}

    def drain_taken(self) -> dict[str, int]:
        """Requests granted per key since the last call (``share`` first)."""
        taken, self._taken = self._taken or {}, {}
        return taken

    def charge(self, key: str, requests: int) -> None:
        """Take ``requests`` that another node granted from ``key``'s bucket here. It may
        go below zero (down to minus a burst): this node then refuses until the refill
        has paid for them, as one node serving them all would have."""
        if not self.enabled or requests <= 0:
            return
        now = self.clock()
        bucket = self._bucket(key, now)
        elapsed = max(0.0, now - bucket.stamp)
        bucket.tokens = max(
            -self.burst, min(self.burst, bucket.tokens + elapsed * self.rate) - requests
        )
        bucket.stamp = now

    def quota(self, key: str) -> Quota | None:
        """``key``'s bucket as of now, without taking from it; None when limiting is off.
        A key never seen has a full burst."""
        if not self.enabled:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            return Quota(int(self.burst), 0)
        now = self.clock()
        tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.stamp) * self.rate)
        return Quota(max(0, int(tokens)), math.ceil((self.burst - tokens) / self.rate))

    @property
    def window_s(self) -> int:
        """Seconds an empty bucket takes to fill: the policy's window (``w``)."""
        return max(1, math.ceil(self.burst / self.rate)) if self.enabled else 0

    def __len__(self) -> int:
        return len(self._buckets)
