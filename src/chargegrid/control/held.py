"""What one EVSE may still obey, as a record that outlives this process (cluster mode):
the apply engine's booking of it in wall-clock time, and the port it is written to.

A site's new owner restores these (``ApplyEngine.restore``) and counts every charger at
the highest limit it may still obey (the held-limit rule, docs/control-loop.md). For that
a record is never below what the charger may obey: what a call could raise (a higher
limit, a later lease end, a profile of unknown value) is written *before* the call is
sent; what an acknowledgement lowers is written after it, whenever convenient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from chargegrid.control.profiles import Limit

# A lease or an uncertainty with no end (a profile without validTo).
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class HeldRecord:
    charger_id: str
    evse_number: int
    live: Limit | None  # the live limit it may obey (None: none known)
    live_tx: int | str | None  # the transaction that limit binds (None: any)
    live_until: datetime | None  # its lease end (None with ``live``: no lease)
    failsafe: Limit | None  # the acknowledged failsafe
    uncertain_until: datetime | None  # a profile of unknown value may bind it until then


class HeldJournal(Protocol):
    """Where the engine keeps its bookings for a node that takes the site over."""

    async def write_ahead(self, records: Sequence[HeldRecord]) -> None:
        """Durable before it returns: the calls these records cover go out after it."""
        ...

    def booked(self, records: Sequence[HeldRecord]) -> None:
        """Lowered (or equal) bookings: written soon, in the background."""
        ...


class TakeoverJournal(HeldJournal, Protocol):
    """The journal as the loop uses it when it takes a site over or hands it on."""

    async def load(self, site_id: str) -> list[HeldRecord]: ...

    async def flush(self) -> None: ...

    def forget(self, charger_ids: set[str]) -> None: ...


class SiteGuard(Protocol):
    """Whether this node may command a site's chargers right now (its lease)."""

    def holds(self, site_id: str) -> bool: ...
