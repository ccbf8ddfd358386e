"""A budget for planning: the share of one core the control loop's rounds may use.

A round re-plans a whole site, so its cost grows with the site; when every charger of
every site reconnects at once (a storm), each one's readiness asks for a round of its
site, and rounds alone (chargers x site size) would starve the handshakes and boots
the storm is waiting for. A token bucket bounds them: tokens accrue at ``share``
seconds per second up to ``burst``; a round spends what its planning took; while the
bucket is in debt the next round waits until it is paid. Rounds that wait take every
trigger that arrived meanwhile along (the debouncer coalesces them), so a site is
re-planned about once per wait, not once per charger.

At rest the bucket is full and a round waits for nothing: an operator's PATCH or a
session's start reaches the cars as fast as before. Safety does not wait on it: a
charger's failsafe goes out on readiness without a round, and reductions are still
sent before increases in the round that comes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PacingSettings:
    share: float = 0.3  # of one core, in the long run
    burst_s: float = 0.5  # planning that may run back to back before the share applies


class RoundBudget:
    def __init__(self, settings: PacingSettings, now: Callable[[], float]) -> None:
        if settings.share <= 0 or settings.burst_s < 0:
            raise ValueError("pacing needs a positive share and a burst >= 0")
        self.settings = settings
        self._now = now
        self._tokens = settings.burst_s
        self._at = now()
        self.waited_s = 0.0  # how long rounds were held back in all (for metrics, tests)

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(
            self.settings.burst_s, self._tokens + (now - self._at) * self.settings.share
        )
        self._at = now

    def delay(self) -> float:
        """Seconds to wait before the next round may start (0 while there is credit)."""
        self._refill()
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.settings.share

    def spend(self, seconds: float) -> None:
        """A round's planning took ``seconds``."""
        self._refill()
        self._tokens -= max(0.0, seconds)

    def held(self, seconds: float) -> None:
        self.waited_s += seconds
