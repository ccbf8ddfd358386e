"""What each session really does, learnt from its per-phase meter values.

- **Phases**: a car on a 3-phase connector may charge on 1 phase. The terminals that
  carry current are its real phases; until seen, every terminal counts (the safe
  assumption). Terminals only ever get added, never dropped, so a pause on one phase
  cannot make us under-count it.
- **Unused headroom**: a car drawing well below its limit for a while (battery nearly
  full, a weak on-board charger) is capped at its draw plus a margin, so the others get
  the rest; the cap goes as soon as the car climbs to it.

Both are learnt only from readings that tell each terminal apart (``split_known``, see
``control.measure``): a total power spread evenly over three terminals would teach a
1-phase car three phases and a third of its draw, and cap it below what it takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Terminals = tuple[float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class LearnerSettings:
    phase_on_a: float = 1.0  # a terminal above this carries the car's current
    well_below_a: float = 4.0  # limit - draw at least this counts as "well below"
    cap_after_s: float = 60.0  # ... for this long before the cap
    cap_margin_a: float = 2.0  # cap = draw + margin
    climb_band_a: float = 1.0  # draw within this of the cap lifts it


@dataclass(slots=True)
class _Seen:
    measured: Terminals = (None, None, None)
    terminals: frozenset[int] = frozenset()
    below_since: float | None = None
    cap: float | None = None
    at: float | None = field(default=None)
    source: str | None = None  # control.measure.Source of ``measured``
    split_known: bool = True


class SessionLearner:
    def __init__(self, settings: LearnerSettings | None = None) -> None:
        self.settings = settings or LearnerSettings()
        self._seen: dict[str, _Seen] = {}

    def observe(
        self,
        session_id: str,
        at: float,
        current: Terminals,
        limit: float | None,
        *,
        source: str | None = "current",
        split_known: bool = True,
    ) -> bool:
        """Record one reading (A per connector terminal) against the session's current
        limit; True when what the allocator should know changed (phases or cap).
        ``split_known=False``: the terminals' values are a total spread by assumption;
        only kept for display and compliance, nothing is learnt from them."""
        seen = self._seen.setdefault(session_id, _Seen())
        seen.measured, seen.at = current, at
        seen.source, seen.split_known = source, split_known
        known = [c for c in current if c is not None]
        if not known:
            return False
        draw = max(known)
        changed = False
        s = self.settings
        if not split_known:
            if seen.cap is not None and draw >= seen.cap - s.climb_band_a:
                seen.cap, seen.below_since = None, None  # lifting a cap is always safe
                return True
            seen.below_since = None
            return False
        if draw > s.phase_on_a:
            on = frozenset(
                i + 1 for i, c in enumerate(current) if c is not None and c > s.phase_on_a
            )
            if not on <= seen.terminals:
                seen.terminals |= on
                changed = True
        if seen.cap is not None:
            if draw >= seen.cap - s.climb_band_a:
                seen.cap, seen.below_since = None, None
                changed = True
            return changed
        if limit is None or limit <= 0 or limit - draw < s.well_below_a:
            seen.below_since = None
            return changed
        if seen.below_since is None:
            seen.below_since = at
        elif at - seen.below_since >= s.cap_after_s:
            seen.cap = draw + s.cap_margin_a
            changed = True
        return changed

    def used_terminals(self, session_id: str) -> tuple[int, ...] | None:
        seen = self._seen.get(session_id)
        if seen is None or not seen.terminals:
            return None
        return tuple(sorted(seen.terminals))

    def cap(self, session_id: str) -> float | None:
        seen = self._seen.get(session_id)
        return None if seen is None else seen.cap

    def measured(self, session_id: str) -> Terminals:
        seen = self._seen.get(session_id)
        return (None, None, None) if seen is None else seen.measured

    def measured_at(self, session_id: str) -> float | None:
        seen = self._seen.get(session_id)
        return None if seen is None else seen.at

    def source(self, session_id: str) -> str | None:
        """Where the latest reading came from: "current" | "power" | "energy" | None."""
        seen = self._seen.get(session_id)
        if seen is None or all(v is None for v in seen.measured):
            return None
        return seen.source

    def split_known(self, session_id: str) -> bool:
        """Whether the latest reading's terminals were measured apart."""
        seen = self._seen.get(session_id)
        return seen is None or seen.split_known

    def forget(self, session_id: str) -> None:
        self._seen.pop(session_id, None)
