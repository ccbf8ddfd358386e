from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargegrid.domain.connectors import PowerType, check_rotation_fits
from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import (
    IDENTITY,
    VALID_ROTATIONS,
    OfflinePhase,
    Phase,
    PhaseRotation,
    compose,
)

ALL_VALID = [r for n in (1, 2, 3) for r in VALID_ROTATIONS[n]]


@pytest.mark.parametrize("text", ALL_VALID)
def test_every_valid_rotation_parses_and_prints_back(text: str) -> None:
    assert str(PhaseRotation.parse(text)) == text


@pytest.mark.parametrize("text", ["", "RR", "RSTR", "XYZ", "RSS", "L1", "R S"])
def test_invalid_rotations_name_the_field(text: str) -> None:
    with pytest.raises(InvalidValue) as err:
        PhaseRotation.parse(text)
    assert err.value.errors[0].field == "phase_rotation"


def test_lower_case_and_spaces_are_normalised() -> None:
    assert str(PhaseRotation.parse(" str ")) == "STR"


def test_str_maps_child_l1_to_parent_l2() -> None:
    rot = PhaseRotation.parse("STR")
    assert rot.target(1) is Phase.L2
    assert rot.target(2) is Phase.L3
    assert rot.target(3) is Phase.L1


def test_single_phase_connector_on_str_circuit_loads_grid_l2() -> None:
    # site RST -> circuit STR -> 1-phase connector R: terminal 1 reaches grid L2.
    grid = compose([IDENTITY, PhaseRotation.parse("STR"), PhaseRotation.parse("R")])
    assert grid.grid_phases() == (Phase.L2,)


def test_child_cannot_use_a_conductor_its_parent_lacks() -> None:
    two_phase = PhaseRotation.parse("TS")
    assert str(two_phase.then(PhaseRotation.parse("SR"))) == "ST"
    with pytest.raises(InvalidValue):
        two_phase.then(PhaseRotation.parse("RST"))


@given(
    st.sampled_from(VALID_ROTATIONS[3]),
    st.sampled_from(VALID_ROTATIONS[3]),
    st.sampled_from(VALID_ROTATIONS[3]),
)
def test_composition_is_associative(a: str, b: str, c: str) -> None:
    ra, rb, rc = (PhaseRotation.parse(x) for x in (a, b, c))
    assert ra.then(rb).then(rc) == ra.then(rb.then(rc))


@given(st.sampled_from(ALL_VALID))
def test_identity_is_neutral(text: str) -> None:
    rot = PhaseRotation.parse(text)
    assert IDENTITY.then(rot) == rot


@pytest.mark.parametrize(
    ("power_type", "rotation", "ok"),
    [
        (PowerType.AC_1_PHASE, "S", True),
        (PowerType.AC_1_PHASE, "RST", False),
        (PowerType.AC_3_PHASE, "TSR", True),
        (PowerType.AC_3_PHASE, "RS", False),
        (PowerType.AC_2_PHASE, "RT", True),
        (PowerType.DC, "RST", True),
    ],
)
def test_rotation_must_fit_power_type(power_type: PowerType, rotation: str, ok: bool) -> None:
    rot = PhaseRotation.parse(rotation)
    if ok:
        check_rotation_fits(rot, power_type)
    else:
        with pytest.raises(InvalidValue):
            check_rotation_fits(rot, power_type)


def test_offline_phase_mask() -> None:
    assert OfflinePhase.ALL.phases() == (Phase.L1, Phase.L2, Phase.L3)
    assert OfflinePhase.L3.phases() == (Phase.L3,)
    assert OfflinePhase.AUTO.phases() == ()
