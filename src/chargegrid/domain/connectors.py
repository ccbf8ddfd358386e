"""Connector vocabulary (OCPI 2.2.1 ``mod_locations``) and what it implies electrically."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import PhaseRotation


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"

    @property
    def phase_count(self) -> int:
        """Conductors the connector's AC side uses. A DC charger's rectifier draws a
        balanced 3-phase input, so it counts as 3."""
        return _PHASES[self]

    @property
    def is_dc(self) -> bool:
        return self is PowerType.DC


_PHASES = {
    PowerType.AC_1_PHASE: 1,
    PowerType.AC_2_PHASE: 2,
    PowerType.AC_2_PHASE_SPLIT: 2,
    PowerType.AC_3_PHASE: 3,
    PowerType.DC: 3,
}


class WiringSource(StrEnum):
    """Who set a connector's power type and phase rotation."""

    DEFAULT = "default"  # created on first sight of the connector, nobody said
    CHARGER = "charger"  # learnt from the charger (1.6 ConnectorPhaseRotation)
    OPERATOR = "operator"  # set through the API; a charger never overrides it

    @property
    def charger_may_update(self) -> bool:
        return self is not WiringSource.OPERATOR


class ConnectorFormat(StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorStandard(StrEnum):
    """OCPI ConnectorType."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


def check_rotation_fits(rotation: PhaseRotation, power_type: PowerType) -> None:
    """A connector's rotation must name as many phases as its power type has."""
    if rotation.phase_count != power_type.phase_count:
        raise InvalidValue.of(
            "phase_rotation",
            f"{power_type.value} has {power_type.phase_count} phase(s); "
            f"{rotation} names {rotation.phase_count}",
        )


MAX_AMPERAGE_RANGE = (1, 1000)


_POWER_TYPE_OF_PHASES = {
    1: PowerType.AC_1_PHASE,
    2: PowerType.AC_2_PHASE,
    3: PowerType.AC_3_PHASE,
}


@dataclass(frozen=True, slots=True)
class Wiring:
    """How a connector is wired: its power type and where its terminals land."""

    power_type: PowerType
    rotation: PhaseRotation

    @classmethod
    def of(cls, rotation: PhaseRotation) -> Wiring:
        return cls(_POWER_TYPE_OF_PHASES[rotation.phase_count], rotation)


@dataclass(frozen=True, slots=True)
class ReportedWiring:
    """What a 1.6 charger's ``ConnectorPhaseRotation`` says about its connectors.

    ``connectors`` holds the listed ones (None: listed, but as unknown or not
    applicable); ``default`` applies to those not listed (from connector 0 or a bare
    value such as ``"RST"``).
    """

    connectors: Mapping[int, Wiring | None] = field(default_factory=dict)
    default: Wiring | None = None

    def of(self, connector_id: int) -> Wiring | None:
        """The connector's wiring, or None when the charger did not say."""
        if connector_id in self.connectors:
            return self.connectors[connector_id]
        return self.default


# OCPP 1.6 values that say nothing about where a connector's terminals land.
_UNSAID = frozenset({"", "NOTAPPLICABLE", "UNKNOWN"})


def parse_connector_phase_rotation(text: str | None) -> ReportedWiring:
    """Parse ``ConnectorPhaseRotation`` (OCPP 1.6 §9.1), e.g. ``"0.RST,1.STR,2.S"``.

    Chargers give 3-phase rotations, ``NotApplicable`` or ``Unknown`` (the standard's
    list) and also 1- or 2-phase letters (``"1.S"``); some give one bare value for all
    connectors. Unknown, not applicable and malformed values say nothing about their
    connector: a charger's junk must not change a connector, and one bad entry must not
    hide the good ones.

    Connector 0 is the charger's main meter or grid connection. The standard has the
    others relative to it, but chargers commonly repeat one value on every entry
    (``"0.STR,1.STR"``), and composing would then turn that into TRS. So a listed
    connector's own value stands, and connector 0 is the value for those not listed.
    """
    connectors: dict[int, Wiring | None] = {}
    default: Wiring | None = None
    for entry in (text or "").split(","):
        number_text, dot, value = entry.strip().partition(".")
        if not dot:
            number_text, value = "0", number_text  # a bare value: every connector
        number_text = number_text.strip()
        if not (number_text.isascii() and number_text.isdigit()):
            continue
        wiring = _wiring(value)
        number = int(number_text)
        if number == 0:
            default = wiring
        else:
            # Listed as unknown: connector 0's value is no better a guess for it.
            connectors[number] = wiring
    return ReportedWiring(connectors, default)


def _wiring(value: str) -> Wiring | None:
    if value.strip().upper() in _UNSAID:
        return None
    try:
        return Wiring.of(PhaseRotation.parse(value))
    except InvalidValue:
        return None
