"""How long a car will stay and how much energy it will take, from past sessions.

A robust estimate: the median dwell and the median energy of the past sessions most
like this one (same weekday and arrival hour), widening step by step (same kind of
day, then any day, at about the same hour; then any session at all) until enough
are found. Medians, not means: one car forgotten over a weekend must not move
everyone's deadline. The confidence (0..1) grows with the number of sessions behind
the estimate, falls with their spread and with each widening step. The id tag's own
history is preferred; the site's stands in when the tag has too little
(docs/deadlines.md). Pure: plain records in, a number out; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Literal

Scope = Literal["id_tag", "site"]


@dataclass(frozen=True, slots=True)
class PastSession:
    """A completed session: its arrival in the site's local time, dwell and energy."""

    arrived: datetime
    dwell_s: float
    energy_wh: float


@dataclass(frozen=True, slots=True)
class Prediction:
    dwell_s: float
    energy_wh: float
    confidence: float  # 0..1
    samples: int  # the sessions behind the medians
    basis: str  # which tier of similarity found them (TIERS)
    scope: Scope | None = None  # whose history: the id tag's or the site's


@dataclass(frozen=True, slots=True)
class PredictionSettings:
    # Fewer similar sessions than this: widen to the next tier.
    min_samples: int = 3
    # Confidence reaches half at this many sessions (n / (n + k)).
    half_confidence_samples: float = 4.0
    # The site's history describes the place, not the driver: it counts for less.
    site_factor: float = 0.8


_Match = Callable[[PastSession, int, float], bool]


def _hour_of(moment: datetime) -> float:
    return moment.hour + moment.minute / 60.0


def _hours_apart(a: float, b: float) -> float:
    """On a 24 h clock: 23:30 and 00:30 are one hour apart."""
    d = abs(a - b) % 24.0
    return min(d, 24.0 - d)


def _weekend(weekday: int) -> bool:
    return weekday >= 5


@dataclass(frozen=True, slots=True)
class Tier:
    basis: str
    factor: float  # how much a match at this tier is trusted
    match: _Match


TIERS: tuple[Tier, ...] = (
    Tier(
        "weekday_hour",
        1.0,
        lambda s, wd, h: s.arrived.weekday() == wd and _hours_apart(_hour_of(s.arrived), h) <= 1.5,
    ),
    Tier(
        "day_kind_hour",
        0.85,
        lambda s, wd, h: (
            _weekend(s.arrived.weekday()) == _weekend(wd)
            and _hours_apart(_hour_of(s.arrived), h) <= 2.0
        ),
    ),
    Tier("hour", 0.7, lambda s, wd, h: _hours_apart(_hour_of(s.arrived), h) <= 3.0),
    Tier("any", 0.5, lambda s, wd, h: True),
)


def _confidence(values: Sequence[float], factor: float, settings: PredictionSettings) -> float:
    n = len(values)
    mid = median(values)
    spread = median(abs(v - mid) for v in values)  # MAD: robust, like the median
    relative = spread / mid if mid > 0 else 1.0
    count = n / (n + settings.half_confidence_samples)
    return max(0.0, min(1.0, factor * count / (1.0 + relative)))


def predict(
    history: Sequence[PastSession],
    arrived: datetime,
    *,
    elapsed_s: float = 0.0,
    settings: PredictionSettings | None = None,
) -> Prediction | None:
    """The typical dwell and energy of sessions like one that arrived at ``arrived``
    (local time) and has stayed ``elapsed_s`` so far: only past sessions that stayed
    longer than that count (a car still here at 19:00 is not one that leaves at 17:00).
    None when no past session qualifies."""
    settings = settings or PredictionSettings()
    weekday, hour = arrived.weekday(), _hour_of(arrived)
    usable = [s for s in history if s.dwell_s > elapsed_s and s.dwell_s > 0]
    for tier in TIERS:
        similar = [s for s in usable if tier.match(s, weekday, hour)]
        if len(similar) < settings.min_samples and tier is not TIERS[-1]:
            continue
        if not similar:
            return None
        dwells = [s.dwell_s for s in similar]
        return Prediction(
            dwell_s=float(median(dwells)),
            energy_wh=float(median(s.energy_wh for s in similar)),
            confidence=_confidence(dwells, tier.factor, settings),
            samples=len(similar),
            basis=tier.basis,
        )
    return None


def predict_for(
    tag_history: Sequence[PastSession],
    site_history: Sequence[PastSession],
    arrived: datetime,
    *,
    elapsed_s: float = 0.0,
    settings: PredictionSettings | None = None,
) -> Prediction | None:
    """From the id tag's own history when it has enough sessions like this one (at
    least ``min_samples`` found before the last, match-anything tier): the driver's own
    habits. Otherwise the more confident of the tag's and the site's estimates (the
    site's counting for ``site_factor`` of its own confidence)."""
    settings = settings or PredictionSettings()
    own = predict(tag_history, arrived, elapsed_s=elapsed_s, settings=settings)
    if own is not None and own.samples >= settings.min_samples and own.basis != TIERS[-1].basis:
        return _with(own, "id_tag", 1.0)
    if own is not None and own.samples < settings.min_samples:
        own = None  # one or two sessions of the tag's: too little
    site = predict(site_history, arrived, elapsed_s=elapsed_s, settings=settings)
    candidates: list[Prediction] = []
    if own is not None:
        candidates.append(_with(own, "id_tag", 1.0))
    if site is not None:
        candidates.append(_with(site, "site", settings.site_factor))
    if not candidates:
        return None
    # Ties go to the id tag's (first).
    return max(candidates, key=lambda p: p.confidence)


def _with(p: Prediction, scope: Scope, factor: float) -> Prediction:
    return Prediction(p.dwell_s, p.energy_wh, p.confidence * factor, p.samples, p.basis, scope)


__all__ = [
    "TIERS",
    "PastSession",
    "Prediction",
    "PredictionSettings",
    "Scope",
    "predict",
    "predict_for",
]
