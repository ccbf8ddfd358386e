"""What the control loop needs from the outside world, as small Protocols.

The OCPP command gateway and the clock are ports so the apply engine runs unchanged
against a fake gateway and a fake clock in unit tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


class CommandGateway(Protocol):
    """Sends one OCPP call to a connected charger and returns its answer's payload.

    Raises ``chargegrid.domain.errors.Conflict`` when the charger is not connected and
    ``ChargerTimeout`` when it does not answer within ``timeout`` seconds.
    """

    # The gateway owns the per-call deadline (it knows the pending-call table), hence
    # a timeout argument rather than asyncio.timeout around the call.
    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Mapping[str, Any]: ...


@runtime_checkable
class StartingGateway(CommandGateway, Protocol):
    """A gateway that can also put a call on the charger's socket and hand back the
    future of its answer without waiting for it (the OCPP gateway does).

    The apply engine sends a wave of a thousand profiles from one task this way: no
    task and no timer per call, and no answers read in between the writes. ``start``
    raises what ``send`` raises when nothing was sent (``Conflict``: offline); the
    future carries the rest. It has no deadline of its own: the caller bounds its wait
    and cancels the future to give up, which makes the gateway forget the call.
    """

    async def start(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Any]: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: for holdoffs, leases, staleness."""
        ...

    def utcnow(self) -> datetime:
        """Wall-clock time: only for what a charger reads (``validTo``) and for display."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(UTC)
