"""A 1.6 charger's ConnectorPhaseRotation, read into connector wiring."""

from __future__ import annotations

import pytest

from chargegrid.domain.connectors import (
    PowerType,
    ReportedWiring,
    Wiring,
    parse_connector_phase_rotation,
)
from chargegrid.domain.phases import PhaseRotation


def wiring(text: str) -> Wiring:
    return Wiring.of(PhaseRotation.parse(text))


def said(reported: ReportedWiring, *numbers: int) -> list[str | None]:
    return [None if (w := reported.of(n)) is None else str(w.rotation) for n in numbers]


def test_each_listed_connector_gets_its_own_rotation_and_power_type() -> None:
    reported = parse_connector_phase_rotation("0.RST,1.STR,2.S")
    assert reported.of(1) == Wiring(PowerType.AC_3_PHASE, PhaseRotation.parse("STR"))
    assert reported.of(2) == Wiring(PowerType.AC_1_PHASE, PhaseRotation.parse("S"))


@pytest.mark.parametrize(
    ("letters", "power_type"),
    [("T", PowerType.AC_1_PHASE), ("TR", PowerType.AC_2_PHASE), ("TSR", PowerType.AC_3_PHASE)],
)
def test_the_number_of_letters_is_the_power_type(letters: str, power_type: PowerType) -> None:
    reported = parse_connector_phase_rotation(f"1.{letters}")
    assert reported.of(1) == Wiring(power_type, PhaseRotation.parse(letters))


def test_a_connector_not_listed_is_unknown_without_connector_0() -> None:
    reported = parse_connector_phase_rotation("1.RST")
    assert said(reported, 1, 2) == ["RST", None]


def test_connector_0_is_the_value_for_connectors_not_listed() -> None:
    reported = parse_connector_phase_rotation("0.TRS,1.R")
    assert said(reported, 1, 2, 3) == ["R", "TRS", "TRS"]


def test_a_bare_value_is_every_connectors() -> None:
    assert said(parse_connector_phase_rotation("RST"), 1, 2) == ["RST", "RST"]
    assert said(parse_connector_phase_rotation("s"), 1, 4) == ["S", "S"]


@pytest.mark.parametrize(
    "text", ["NotApplicable", "Unknown", "1.NotApplicable", "0.Unknown,1.unknown", "", None]
)
def test_not_applicable_and_unknown_say_nothing(text: str | None) -> None:
    assert said(parse_connector_phase_rotation(text), 1, 2) == [None, None]


def test_a_connector_listed_as_unknown_does_not_take_connector_0s() -> None:
    reported = parse_connector_phase_rotation("0.RST,1.Unknown,2.NotApplicable,3.T")
    assert said(reported, 1, 2, 3, 4) == [None, None, "T", "RST"]


@pytest.mark.parametrize(
    "text",
    ["garbage", "1.XYZ", "1.RSTR", "1.RR", "x.RST", "-1.RST", "1.", ".RST", "1.R S", "².RST"],
)
def test_junk_says_nothing(text: str) -> None:
    assert said(parse_connector_phase_rotation(text), 1, 2) == [None, None]


def test_junk_entries_do_not_hide_the_good_ones() -> None:
    reported = parse_connector_phase_rotation("1.L1L2L3,2.STR,,x.S,3.")
    assert said(reported, 1, 2, 3) == [None, "STR", None]


def test_whitespace_and_case_are_forgiven() -> None:
    reported = parse_connector_phase_rotation(" 0 . rst ,  1.str\t, 2 .S ")
    assert said(reported, 1, 2, 3) == ["STR", "S", "RST"]
