"""A set of EVSE keys that also answers "which of them are this charger's?" at once.

The apply engine drops or re-arms a charger's keys on every connect, disconnect and
ready event; with a scan over all keys that grew with the square of the fleet in a
reconnect storm (bench/results/storm.md)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, Protocol, TypeVar


class _OfCharger(Hashable, Protocol):
    @property
    def charger_id(self) -> str: ...


K = TypeVar("K", bound=_OfCharger)


class EvseIndex(Generic[K]):
    def __init__(self) -> None:
        self._by_charger: dict[str, set[K]] = {}

    def add(self, key: K) -> None:
        self._by_charger.setdefault(key.charger_id, set()).add(key)

    def __contains__(self, key: object) -> bool:
        keys = self._by_charger.get(getattr(key, "charger_id", ""))
        return keys is not None and key in keys

    def of(self, charger_id: str) -> frozenset[K]:
        return frozenset(self._by_charger.get(charger_id, ()))

    def drop(self, charger_id: str) -> None:
        self._by_charger.pop(charger_id, None)

    def __iter__(self) -> Iterator[K]:
        for keys in self._by_charger.values():
            yield from keys

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._by_charger.values())
