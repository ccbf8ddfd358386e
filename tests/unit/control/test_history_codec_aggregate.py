"""The load history's packing, bucketing and settings, without a database."""

from __future__ import annotations

import pytest

from chargegrid.services.history_aggregate import Bucket, combine, from_raw
from chargegrid.services.history_settings import HistorySettings, Tier, parse_tiers
from chargegrid.store.history_codec import CodecError, decode, encode

NODE = (32.0, 32.0, 32.0, 10.5, 0.0, None, 9.87, 0.01, None, 1.0, 2.0, 3.0)


def test_a_node_row_round_trips_in_two_bytes_a_value() -> None:
    blob = encode("site", NODE)
    assert len(blob) == 1 + 2 * 12
    assert decode("site", blob) == NODE


def test_large_values_widen_the_row_and_stay_exact() -> None:
    values = (630.0, 630.0, 630.0, *(0.0,) * 9)  # 63000 centiamps: past a 2-byte value
    blob = encode("circuit", values)
    assert len(blob) == 1 + 4 * 12
    assert decode("circuit", blob) == values


def test_a_session_row_keeps_power_to_10_w() -> None:
    values = (16.0, 3.0, 15.9, 16.1, 15.8, 11_040.0)
    assert decode("session", encode("session", values)) == values
    assert decode("session", encode("session", (16.0, 1.0, 16.0, None, None, 3683.0)))[5] == 3680.0


def test_wrong_width_and_corrupt_rows_are_refused() -> None:
    with pytest.raises(CodecError):
        encode("session", (1.0, 2.0))
    with pytest.raises(CodecError):
        decode("site", b"x\x00\x00")


def test_values_stand_until_the_next_row_weighted_by_time() -> None:
    # 10 A for 45 s, then 20 A for 15 s: the minute averages 12.5 A and peaks at 20 A.
    rows = [(0, (10.0,)), (45, (20.0,))]
    (bucket,) = from_raw(rows, 0, 60, 60, hold=65)
    assert bucket == Bucket(0, 60, (12.5,), (20.0,))


def test_a_value_stands_no_longer_than_hold_and_an_end_row_ends_it() -> None:
    rows = [(0, (10.0,)), (100, (None,)), (130, (4.0,))]
    buckets = from_raw(rows, 0, 180, 60, hold=30)
    # 0..30 from the first row (hold), nothing 30..130, 130..160 from the last.
    assert [(b.t, b.n, b.avg) for b in buckets] == [(0, 30, (10.0,)), (120, 30, (4.0,))]


def test_a_row_before_the_window_carries_into_it() -> None:
    rows = [(50, (6.0,)), (70, (8.0,))]
    (bucket,) = from_raw(rows, 60, 120, 60, hold=65)
    assert bucket == Bucket(60, 60, (round((6 * 10 + 8 * 50) / 60, 4),), (8.0,))


def test_unknown_values_average_over_where_they_were_known() -> None:
    rows = [(0, (1.0, None)), (30, (3.0, 5.0))]
    (bucket,) = from_raw(rows, 0, 60, 60, hold=65)
    assert bucket.avg == (2.0, 5.0) and bucket.max == (3.0, 5.0) and bucket.n == 60


def test_coarser_buckets_weight_finer_ones_by_their_coverage() -> None:
    fine = [Bucket(0, 60, (10.0,), (12.0,)), Bucket(60, 20, (40.0,), (41.0,))]
    (coarse,) = combine(fine, 900)
    assert coarse == Bucket(0, 80, (17.5,), (41.0,))


def test_tiers_parse_and_must_nest() -> None:
    assert parse_tiers("1s:1d,1m:30d,15m:395d") == (
        Tier(1, 86_400),
        Tier(60, 30 * 86_400),
        Tier(900, 395 * 86_400),
    )
    for bad in ("60:1d", "1:1d,90:30d,120:60d", "1:1d,1m", "1:0d", "1:xd"):
        with pytest.raises(ValueError, match="CHARGEGRID_HISTORY_TIERS"):
            parse_tiers(bad, "CHARGEGRID_HISTORY_TIERS")


def test_settings_from_the_environment() -> None:
    env = {
        "CHARGEGRID_HISTORY_TIERS": "1:2h,5m:2d",
        "CHARGEGRID_HISTORY_KEEPALIVE_S": "30",
        "CHARGEGRID_HISTORY_MAX_POINTS": "100",
    }
    settings = HistorySettings.from_env(env)
    assert settings.tiers == (Tier(1, 7200), Tier(300, 2 * 86_400))
    assert settings.keepalive_s == 30 and settings.max_points == 100
    assert settings.default_points == 100
    assert HistorySettings.from_env({"CHARGEGRID_HISTORY": "off"}).enabled is False
    with pytest.raises(ValueError, match="CHARGEGRID_HISTORY_FLUSH_S"):
        HistorySettings.from_env({"CHARGEGRID_HISTORY_FLUSH_S": "-1"})
