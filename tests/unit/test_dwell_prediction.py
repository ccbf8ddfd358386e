"""The pure dwell and energy predictor (domain/dwell_prediction.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chargegrid.domain.dwell_prediction import PastSession, predict, predict_for

MONDAY_8 = datetime(2026, 11, 2, 8, 0)  # a Monday
HOUR = 3600.0


def _past(day: int, hour: float, dwell_h: float, kwh: float) -> PastSession:
    arrived = MONDAY_8.replace(hour=0) + timedelta(days=day, hours=hour)
    return PastSession(arrived, dwell_h * HOUR, kwh * 1000)


def test_same_weekday_and_hour_win_over_other_days() -> None:
    # Mondays at 8: a 9-hour day; other weekdays at 8: half days.
    history = [_past(-7 * w, 8.0, 9.0, 20.0) for w in range(1, 5)]
    history += [_past(-7 * w + d, 8.0, 4.0, 8.0) for w in range(1, 5) for d in (1, 2, 3)]
    p = predict(history, MONDAY_8)
    assert p is not None
    assert (p.basis, p.samples, p.dwell_s, p.energy_wh) == ("weekday_hour", 4, 9 * HOUR, 20000)


def test_widens_to_any_day_at_that_hour_then_to_everything() -> None:
    tuesdays = [_past(-6, 8.5, 5.0, 10.0), _past(-13, 7.5, 6.0, 12.0), _past(-20, 8.0, 7.0, 14.0)]
    p = predict(tuesdays, MONDAY_8)
    assert p is not None and p.basis == "day_kind_hour" and p.dwell_s == 6 * HOUR
    saturdays = [_past(-2, 8.0, 2.0, 5.0)] * 3
    p = predict(saturdays, MONDAY_8)
    assert p is not None and p.basis == "hour"
    evenings = [_past(-1, 20.0, 10.0, 30.0)]
    p = predict(evenings, MONDAY_8)
    assert p is not None and p.basis == "any" and p.samples == 1


def test_a_car_still_here_is_predicted_from_sessions_that_stayed_longer() -> None:
    history = [_past(-7 * w, 8.0, h, 10.0) for w, h in enumerate((2.0, 3.0, 9.0, 10.0, 11.0), 1)]
    assert predict(history, MONDAY_8) is not None
    later = predict(history, MONDAY_8, elapsed_s=4 * HOUR)
    assert later is not None and later.dwell_s == 10 * HOUR and later.samples == 3
    assert predict(history, MONDAY_8, elapsed_s=12 * HOUR) is None


def test_midnight_is_one_hour_from_eleven_pm() -> None:
    sundays = [_past(-7 * w - 1, 23.5, 8.0, 10.0) for w in range(1, 4)]
    p = predict(sundays, MONDAY_8.replace(hour=0, minute=30))
    # Sunday 23:30 arrivals vs a Monday 00:30 one: another kind of day, an hour apart.
    assert p is not None and p.basis == "hour"


def test_nothing_to_learn_from() -> None:
    assert predict([], MONDAY_8) is None
    assert predict_for([], [], MONDAY_8) is None


def test_the_id_tag_wins_with_enough_history_else_the_site() -> None:
    mine = [_past(-7 * w, 8.0, 9.0, 20.0) for w in range(1, 6)]
    site = [_past(-7 * w, 8.0, 3.0, 6.0) for w in range(1, 30)]
    p = predict_for(mine, site, MONDAY_8)
    assert p is not None and (p.scope, p.dwell_s) == ("id_tag", 9 * HOUR)
    p = predict_for(mine[:2], site, MONDAY_8)
    assert p is not None and (p.scope, p.dwell_s) == ("site", 3 * HOUR)
    # The tag's only match-anything: the site's like sessions are more telling.
    evenings = [_past(-7 * w, 20.0, 12.0, 30.0) for w in range(1, 6)]
    p = predict_for(evenings, site, MONDAY_8)
    assert p is not None and p.scope == "site"


def test_confidence_grows_with_samples_and_falls_with_spread() -> None:
    few = predict([_past(-7 * w, 8.0, 8.0, 10.0) for w in range(1, 4)], MONDAY_8)
    many = predict([_past(-7 * w, 8.0, 8.0, 10.0) for w in range(1, 21)], MONDAY_8)
    spread = predict(
        [_past(-7 * w, 8.0, 2.0 + 4.0 * (w % 4), 10.0) for w in range(1, 21)], MONDAY_8
    )
    assert few is not None and many is not None and spread is not None
    assert few.confidence < many.confidence
    assert spread.confidence < many.confidence


sessions = st.builds(
    PastSession,
    arrived=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
    dwell_s=st.floats(min_value=60.0, max_value=5 * 86400.0),
    energy_wh=st.floats(min_value=0.0, max_value=200_000.0),
)


@settings(max_examples=80, deadline=None)
@given(
    history=st.lists(sessions, max_size=40),
    arrived=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
    elapsed_h=st.floats(min_value=0.0, max_value=48.0),
    order=st.randoms(use_true_random=False),
)
def test_estimates_lie_within_the_history_and_ignore_its_order(
    history: list[PastSession], arrived: datetime, elapsed_h: float, order: object
) -> None:
    elapsed = elapsed_h * HOUR
    p = predict(history, arrived, elapsed_s=elapsed)
    staying = [s for s in history if s.dwell_s > elapsed]
    if not staying:
        assert p is None
        return
    assert p is not None
    assert 0.0 <= p.confidence <= 1.0
    assert 1 <= p.samples <= len(staying)
    # A median of the sessions that stayed longer: within them, so after the elapsed time.
    assert min(s.dwell_s for s in staying) <= p.dwell_s <= max(s.dwell_s for s in staying)
    assert p.dwell_s > elapsed
    assert min(s.energy_wh for s in staying) <= p.energy_wh <= max(s.energy_wh for s in staying)
    shuffled = list(history)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert predict(shuffled, arrived, elapsed_s=elapsed) == p
