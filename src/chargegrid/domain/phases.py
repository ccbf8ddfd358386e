"""Grid phases and phase rotation.

A site has grid phases L1, L2, L3 (also written R, S, T). A node's ``phase_rotation``
says where its conductors 1, 2, 3 land on its parent's phases: ``"STR"`` means
child L1 -> parent L2, child L2 -> parent L3, child L3 -> parent L1. Rotations
compose down the tree, so a connector's terminal *i* reaches grid phase
``site ∘ circuit … ∘ connector`` applied to *i*. Getting this right is what lets
single-phase cars be spread over the three grid phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from chargegrid.domain.errors import InvalidValue

_LETTERS = "RST"


class Phase(IntEnum):
    """A grid (or parent) phase; the value is the 1-based conductor number."""

    L1 = 1
    L2 = 2
    L3 = 3

    @property
    def letter(self) -> str:
        return _LETTERS[self - 1]

    @property
    def index(self) -> int:
        """0-based index, for per-phase arrays."""
        return int(self) - 1


ALL_PHASES: tuple[Phase, Phase, Phase] = (Phase.L1, Phase.L2, Phase.L3)

VALID_ROTATIONS: dict[int, tuple[str, ...]] = {
    3: ("RST", "RTS", "SRT", "STR", "TRS", "TSR"),
    2: ("RS", "RT", "SR", "ST", "TR", "TS"),
    1: ("R", "S", "T"),
}


@dataclass(frozen=True, slots=True)
class PhaseRotation:
    """Where each of a node's conductors lands on its parent's phases.

    ``targets[i]`` is the parent phase that this node's conductor ``i + 1`` connects to.
    The number of targets is the node's phase count (1, 2 or 3).
    """

    targets: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.targets) <= 3:
            raise InvalidValue.of("phase_rotation", "must name 1, 2 or 3 phases")
        if len(set(self.targets)) != len(self.targets):
            raise InvalidValue.of("phase_rotation", "must not name a phase twice")

    @classmethod
    def parse(cls, text: str, field_name: str = "phase_rotation") -> PhaseRotation:
        """Parse ``"RST"``, ``"TS"``, ``"S"`` …; the error names ``field_name``."""
        value = text.strip().upper() if isinstance(text, str) else text
        if not isinstance(value, str) or value not in VALID_ROTATIONS.get(len(value), ()):
            valid = ", ".join(r for n in (3, 2, 1) for r in VALID_ROTATIONS[n])
            raise InvalidValue.of(field_name, f"{text!r} is not a phase rotation; one of {valid}")
        return cls(tuple(Phase(_LETTERS.index(c) + 1) for c in value))

    @classmethod
    def identity(cls, phases: int = 3) -> PhaseRotation:
        if phases not in VALID_ROTATIONS:
            raise InvalidValue.of("phases", "must be 1, 2 or 3")
        return cls(ALL_PHASES[:phases])

    @property
    def phase_count(self) -> int:
        return len(self.targets)

    def __str__(self) -> str:
        return "".join(p.letter for p in self.targets)

    def target(self, conductor: int) -> Phase:
        """The parent phase that this node's 1-based ``conductor`` reaches."""
        if not 1 <= conductor <= len(self.targets):
            raise InvalidValue.of(
                "phase_rotation", f"conductor {conductor} does not exist on {self}"
            )
        return self.targets[conductor - 1]

    def then(self, child: PhaseRotation) -> PhaseRotation:
        """Compose down the tree: ``self`` is this node's rotation to the grid, ``child``
        the child's rotation to this node; the result is the child's rotation to the grid.

        A child can only use conductors its parent has: a 2-phase child ``"RT"`` under a
        2-phase parent has no conductor 3 to land on.
        """
        if max(child.targets) > self.phase_count:
            raise InvalidValue.of(
                "phase_rotation",
                f"{child} needs {int(max(child.targets))} conductors; "
                f"the parent has {self.phase_count}",
            )
        return PhaseRotation(tuple(self.targets[p - 1] for p in child.targets))

    def grid_phases(self, terminals: int | None = None) -> tuple[Phase, ...]:
        """Grid phases reached by the first ``terminals`` conductors (all by default)."""
        n = self.phase_count if terminals is None else min(terminals, self.phase_count)
        return self.targets[:n]


IDENTITY = PhaseRotation.identity(3)


def compose(rotations: list[PhaseRotation]) -> PhaseRotation:
    """Compose rotations from the site down: ``[site, circuit, …, connector]``."""
    result = IDENTITY
    for rotation in rotations:
        result = result.then(rotation)
    return result


class OfflinePhase(IntEnum):
    """Zaptec-style offline phase selection, a bit mask over grid phases."""

    AUTO = 0
    L1 = 1
    L2 = 2
    L3 = 4
    ALL = 7

    def phases(self) -> tuple[Phase, ...]:
        """The phases this setting names; AUTO names none (the planner decides)."""
        return tuple(p for p in ALL_PHASES if int(self) & (1 << p.index))
