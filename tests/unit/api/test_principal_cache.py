"""The principal cache in front of token lookups: expiry and a bounded size."""

from __future__ import annotations

from chargegrid.services.auth import Principal, PrincipalCache, Role


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = PrincipalCache(ttl_s=5, clock=clock)
    cache.put("cg_a", Principal(Role.OWNER))
    clock.now += 4.9
    assert cache.get("cg_a") == Principal(Role.OWNER)
    clock.now += 0.1
    assert cache.get("cg_a") is None


def test_least_recently_stored_entries_go_first() -> None:
    cache = PrincipalCache(ttl_s=60, max_entries=2, clock=Clock())
    for name in ("cg_a", "cg_b", "cg_c"):
        cache.put(name, Principal(Role.VIEWER))
    assert cache.get("cg_a") is None
    assert cache.get("cg_b") is not None and cache.get("cg_c") is not None
