"""How the load history is kept (docs/control-loop.md "Load history"): the resolutions
and how long each is kept, how often the recorder writes, and how much one answer holds.
Part of ``config.Settings`` (``history``); ``CHARGEGRID_HISTORY_*`` in the environment."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

DAY = 86_400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY}


@dataclass(frozen=True, slots=True)
class Tier:
    resolution_s: int  # bucket width
    keep_s: int  # rows older than this are deleted


DEFAULT_TIERS = (Tier(1, DAY), Tier(60, 30 * DAY), Tier(900, 395 * DAY))


@dataclass(frozen=True, slots=True)
class HistorySettings:
    enabled: bool = True
    # The first is full resolution (1 s); each next one is computed from the one
    # before it, so each resolution divides the next.
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    # The recorder writes what changed once per flush_s (one INSERT for every site).
    flush_s: float = 1.0
    # An unchanged value is written again after keepalive_s, so a value never stands
    # for longer than that: a gap (server down) reads as a gap, not as the last value.
    keepalive_s: int = 60
    # How often the downsampling and retention job runs.
    job_s: float = 60.0
    # Buckets closer to now than this are left for the next run (late writes).
    lag_s: int = 10
    # Points in one answer: more is a 422 (ask for a bigger step); without a step the
    # answer aims at default_points.
    max_points: int = 5000
    default_points: int = 720

    def __post_init__(self) -> None:
        check_tiers(self.tiers)
        if self.keepalive_s < 1 or self.flush_s <= 0 or self.job_s <= 0:
            raise ValueError("history: keepalive_s >= 1, flush_s > 0 and job_s > 0")
        if not 1 <= self.default_points <= self.max_points:
            raise ValueError("history: 1 <= default_points <= max_points")

    @property
    def hold_s(self) -> int:
        """How long a full-resolution value stands without a newer row: the keepalive
        and a little slack for a late flush."""
        return self.keepalive_s + 5 + math.ceil(self.flush_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HistorySettings:
        def number(name: str, default: float) -> float:
            text = env.get(name)
            if text is None or text == "":
                return default
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not 0 < value < math.inf:
                raise ValueError(f"{name}={text!r}: expected a finite number > 0")
            return value

        base = cls()
        enabled_text = env.get("CHARGEGRID_HISTORY", "on").strip().lower()
        if enabled_text not in {"on", "off", "1", "0", "true", "false", "yes", "no"}:
            raise ValueError(f"CHARGEGRID_HISTORY={enabled_text!r}: expected on or off")
        tiers_text = env.get("CHARGEGRID_HISTORY_TIERS")
        max_points = int(number("CHARGEGRID_HISTORY_MAX_POINTS", base.max_points))
        return cls(
            enabled=enabled_text in {"on", "1", "true", "yes"},
            tiers=parse_tiers(tiers_text, "CHARGEGRID_HISTORY_TIERS") if tiers_text else base.tiers,
            flush_s=number("CHARGEGRID_HISTORY_FLUSH_S", base.flush_s),
            keepalive_s=int(number("CHARGEGRID_HISTORY_KEEPALIVE_S", base.keepalive_s)),
            job_s=number("CHARGEGRID_HISTORY_JOB_S", base.job_s),
            max_points=max_points,
            default_points=min(base.default_points, max_points),
        )


def parse_tiers(text: str, name: str = "tiers") -> tuple[Tier, ...]:
    """``1s:1d,1m:30d,15m:395d`` (a bare number is seconds)."""
    tiers = []
    for part in text.split(","):
        resolution, sep, keep = part.strip().partition(":")
        if not sep:
            raise ValueError(f"{name}={text!r}: each tier is RESOLUTION:KEEP, e.g. 1m:30d")
        tiers.append(Tier(_duration(resolution, name, text), _duration(keep, name, text)))
    try:
        return check_tiers(tuple(tiers))
    except ValueError as error:
        raise ValueError(f"{name}={text!r}: {error}") from None


def check_tiers(tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
    if not tiers or tiers[0].resolution_s != 1:
        raise ValueError("the first tier is full resolution (1s)")
    for finer, coarser in itertools.pairwise(tiers):
        if coarser.resolution_s <= finer.resolution_s or coarser.resolution_s % finer.resolution_s:
            raise ValueError("each resolution is a multiple of the one before it")
    for tier in tiers:
        if tier.keep_s < tier.resolution_s:
            raise ValueError("a tier keeps at least one bucket")
    return tiers


def _duration(text: str, name: str, whole: str) -> int:
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:])
    digits = text[:-1] if unit is not None else text
    try:
        value = int(digits)
    except ValueError:
        raise ValueError(
            f"{name}={whole!r}: {text!r} is not a duration like 90s, 15m, 30d"
        ) from None
    if value <= 0:
        raise ValueError(f"{name}={whole!r}: {text!r} must be positive")
    return value * (unit or 1)
