"""Connector vocabulary (OCPI 2.2.1 ``mod_locations``) and what it implies electrically."""

from __future__ import annotations

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
