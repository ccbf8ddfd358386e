"""Available-current overrides (domain.limits): the Zaptec rules, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.limits import NO_OVERRIDE, Override, OverrideWrite, apply_override_write

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def write(**fields: float | None) -> OverrideWrite:
    names = {
        "phase1": "available_current_phase1",
        "phase2": "available_current_phase2",
        "phase3": "available_current_phase3",
        "ttl_s": "available_current_ttl_s",
    }
    given_names = frozenset(names.get(k, k) for k in fields)
    return OverrideWrite(given=given_names, **fields)  # type: ignore[arg-type]


def test_all_phases() -> None:
    result = apply_override_write(NO_OVERRIDE, write(available_current=20), NOW)
    assert result.phases == (20, 20, 20) and result.common_value == 20


def test_left_out_phases_go_to_default() -> None:
    start = Override((20.0, 20.0, 20.0))
    result = apply_override_write(start, write(phase2=10), NOW)
    assert result.phases == (None, 10, None)
    assert result.effective(63, NOW).as_tuple() == (63, 10, 63)


@pytest.mark.parametrize("value", [-1, -0.1, None])
def test_negative_or_null_clears(value: float | None) -> None:
    start = Override((20.0, 20.0, 20.0))
    assert apply_override_write(start, write(available_current=value), NOW) == NO_OVERRIDE


def test_both_forms_is_an_error_naming_available_current() -> None:
    with pytest.raises(InvalidValue) as err:
        apply_override_write(NO_OVERRIDE, write(available_current=10, phase1=5), NOW)
    assert err.value.errors[0].field == "available_current"


def test_values_above_the_ceiling_are_stored_as_the_ceiling() -> None:
    result = apply_override_write(NO_OVERRIDE, write(phase1=100, phase3=30), NOW, ceiling=63)
    assert result.phases == (63, None, 30)


def test_ttl_sets_expiry_and_lapses() -> None:
    result = apply_override_write(NO_OVERRIDE, write(available_current=10, ttl_s=60), NOW)
    assert result.expires_at == NOW + timedelta(seconds=60)
    assert result.effective(32, NOW).as_tuple() == (10, 10, 10)
    assert result.effective(32, NOW + timedelta(seconds=60)).as_tuple() == (32, 32, 32)


@pytest.mark.parametrize(
    "fields",
    [{"ttl_s": 60}, {"available_current": 10, "ttl_s": 0}, {"available_current": 10, "ttl_s": -5}],
)
def test_bad_ttl_names_the_field(fields: dict[str, float]) -> None:
    with pytest.raises(InvalidValue) as err:
        apply_override_write(NO_OVERRIDE, write(**fields), NOW)
    assert err.value.errors[0].field == "available_current_ttl_s"


def test_unrelated_write_keeps_the_override() -> None:
    start = Override((5.0, None, 7.0), NOW + timedelta(hours=1))
    assert apply_override_write(start, OverrideWrite(given=frozenset()), NOW) == start


amps = st.one_of(st.none(), st.floats(-100, 2000, allow_nan=False))


@given(
    phases=st.tuples(amps, amps, amps),
    max_current=st.floats(0, 1000, allow_nan=False),
    offset_s=st.integers(-3600, 3600),
)
def test_effective_is_never_above_the_rating_nor_negative(
    phases: tuple[float | None, float | None, float | None], max_current: float, offset_s: int
) -> None:
    override = Override(phases, NOW + timedelta(seconds=offset_s))
    effective = override.effective(max_current, NOW).as_tuple()
    assert all(0 <= value <= max_current for value in effective)
    if not override.active(NOW):
        assert effective == (max_current,) * 3
