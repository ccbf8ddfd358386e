"""The token bucket and the per-key limiter, on a fake clock."""

from __future__ import annotations

import math

import pytest

from chargegrid.config import Settings
from chargegrid.services.rate_limit import RateLimiter, TokenBucket, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def granted(limiter: RateLimiter, key: str, n: int) -> int:
    """How many of ``n`` back-to-back requests by ``key`` are let in."""
    return sum(limiter.take(key) == 0.0 for _ in range(n))


def test_a_full_bucket_grants_the_burst_then_refuses() -> None:
    limiter = RateLimiter(10, 15, clock=FakeClock())
    assert granted(limiter, "t", 20) == 15


def test_refused_requests_take_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, 15, clock=clock)
    granted(limiter, "t", 15)
    for _ in range(50):
        assert limiter.take("t") > 0
    clock.advance(0.1)  # one token's worth at 10/s, not drained by the refusals above
    assert limiter.take("t") == 0.0
    assert limiter.take("t") > 0


def test_refill_follows_the_rate_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, 15, clock=clock)
    granted(limiter, "t", 15)
    clock.advance(0.55)  # 5.5 tokens: five whole requests
    assert granted(limiter, "t", 10) == 5
    clock.advance(3600)  # an hour idle fills the bucket, not beyond the burst
    assert granted(limiter, "t", 100) == 15


def test_wait_is_the_time_until_the_next_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, 2, clock=clock)
    granted(limiter, "t", 2)
    assert limiter.take("t") == pytest.approx(0.25)
    clock.advance(0.1)  # 0.4 of a token is back
    assert limiter.take("t") == pytest.approx(0.15)
    clock.advance(0.15)
    assert limiter.take("t") == 0.0


def test_a_slow_rate_waits_whole_seconds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.2, 1, clock=clock)  # one request per five seconds
    assert limiter.take("t") == 0.0
    clock.advance(1.0)
    wait = limiter.take("t")
    assert wait == pytest.approx(4.0)
    assert retry_after_seconds(wait) == 4


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, 1), (0.05, 1), (1.0, 1), (1.01, 2), (4.5, 5), (59.99, 60)]
)
def test_retry_after_is_whole_seconds_and_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter(1, 3, clock=FakeClock())
    assert granted(limiter, "a", 5) == 3
    assert granted(limiter, "b", 5) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 100), (20, 0), (0, 0)])
def test_zero_rate_or_burst_turns_limiting_off(rate: float, burst: int) -> None:
    limiter = RateLimiter(rate, burst, clock=FakeClock())
    assert not limiter.enabled
    assert granted(limiter, "t", 10_000) == 10_000
    assert len(limiter) == 0  # and keeps no state


def test_memory_is_bounded_by_dropping_the_least_recently_used() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 2, max_keys=3, clock=clock)
    for key in "abc":
        granted(limiter, key, 2)  # each bucket now empty
    assert limiter.take("a") > 0  # "a" is now the most recently used
    limiter.take("d")  # a fourth key drops the least recently used: "b"
    assert len(limiter) == 3
    assert limiter.take("a") > 0 and limiter.take("c") > 0  # kept, still empty
    assert granted(limiter, "b", 3) == 2  # forgotten: a fresh burst


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = TokenBucket(tokens=0.0, stamp=100.0)
    assert bucket.take(50.0, rate=10, burst=5) == pytest.approx(0.1)
    assert bucket.tokens == 0.0


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1, 10)
    with pytest.raises(ValueError):
        RateLimiter(10, -1)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEGRID_RATE_LIMIT", "2.5")
    monkeypatch.setenv("CHARGEGRID_RATE_BURST", "7")
    settings = Settings.from_env()
    assert (settings.rate_limit, settings.rate_burst) == (2.5, 7)
    monkeypatch.setenv("CHARGEGRID_RATE_LIMIT", "0")
    assert Settings.from_env().rate_limit == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHARGEGRID_RATE_LIMIT", "-1"),
        ("CHARGEGRID_RATE_LIMIT", "fast"),
        ("CHARGEGRID_RATE_LIMIT", "nan"),
        ("CHARGEGRID_RATE_LIMIT", str(math.inf)),
        ("CHARGEGRID_RATE_BURST", "1.5"),
    ],
)
def test_bad_environment_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        Settings.from_env()


def test_grants_elsewhere_are_charged_here_and_paid_off_by_the_refill() -> None:
    """Cluster mode (cluster/shared_limits.py): what node A granted is charged to node
    B's bucket for the key, which may go below zero until the refill pays for it."""
    clock = FakeClock()
    a, b = RateLimiter(2, 4, clock=clock), RateLimiter(2, 4, clock=clock)
    a.share()
    assert granted(a, "t", 3) == 3
    assert a.drain_taken() == {"t": 3} and a.drain_taken() == {}
    b.charge("t", 3)
    assert granted(b, "t", 5) == 1  # 4 - 3 left one
    b.charge("t", 100)  # more than a burst: the debt stops at minus a burst
    assert b.take("t") == pytest.approx((1 + 4) / 2)
    clock.advance(2.5)  # 5 tokens of refill: from -4 to 1
    assert granted(b, "t", 3) == 1
    quota = b.quota("t")
    assert quota is not None and quota.remaining == 0
    b.charge("other", 0)  # nothing granted: no bucket made
    assert len(b) == 1
