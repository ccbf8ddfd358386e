"""Which source of a session's deadline wins, and id tag defaults (domain/deadline_sources.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargegrid.domain.deadline_sources import (
    Candidate,
    DeadlineSource,
    default_departure,
    may_replace,
    parse_time_of_day,
    resolve,
)

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # 08:00 in Oslo
S = DeadlineSource


def test_stronger_sources_win_field_by_field() -> None:
    resolved = resolve(
        [
            Candidate(S.PREDICTED, T0 + timedelta(hours=9), 20000.0, confidence=0.4),
            Candidate(S.API, None, 30000.0),
            Candidate(S.CHARGER, T0 + timedelta(hours=5), 25000.0),
        ]
    )
    assert resolved.departure_at == T0 + timedelta(hours=5)
    assert (resolved.departure_source, resolved.departure_confidence) == (S.CHARGER, 1.0)
    assert (resolved.energy_wh, resolved.energy_source) == (30000.0, S.API)


def test_a_prediction_keeps_its_confidence() -> None:
    resolved = resolve([Candidate(S.PREDICTED, T0, None, confidence=0.35)])
    assert (resolved.departure_source, resolved.departure_confidence) == (S.PREDICTED, 0.35)
    assert resolved.energy_source is None


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_precedence_is_a_total_order(a: DeadlineSource, b: DeadlineSource) -> None:
    order = [S.PREDICTED, S.ID_TAG_DEFAULT, S.CHARGER, S.API]
    assert may_replace(a.value, b) == (order.index(b) >= order.index(a))
    assert may_replace(None, b)


def test_default_departure_is_the_next_local_time_of_day() -> None:
    at_530 = default_departure(T0, OSLO, time(17, 30), None)
    assert at_530 == datetime(2026, 11, 2, 17, 30, tzinfo=OSLO)
    evening = T0 + timedelta(hours=11)  # 19:00 in Oslo: stays overnight
    assert default_departure(evening, OSLO, time(17, 30), None) == datetime(
        2026, 11, 3, 17, 30, tzinfo=OSLO
    )
    assert default_departure(T0, OSLO, None, 3600) == T0 + timedelta(hours=1)
    assert default_departure(T0, OSLO, None, None) is None


def test_time_of_day_text() -> None:
    assert parse_time_of_day("17:30") == time(17, 30)
    assert parse_time_of_day("7:05") == time(7, 5)
    for bad in ("24:00", "17:60", "1730", "17:3", "ab:cd", ""):
        with pytest.raises(ValueError):
            parse_time_of_day(bad)
