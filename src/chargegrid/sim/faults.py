"""Fault injection for simulated chargers: what real chargers do to a CSMS."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    # Close the WebSocket about every N real seconds (None: never); the charger buffers
    # transaction messages meanwhile and replays them on reconnect.
    drop_link_every_s: float | None = None
    # Probability that a SetChargingProfile is answered Rejected.
    refuse_profiles: float = 0.0
    # Seconds before answering any CALL from the central system.
    answer_delay_s: float = 0.0
    # Probability that a session ignores its limit (draws the car's max) for a while.
    ignore_limits: float = 0.0
    ignore_for_s: float = 120.0  # simulated seconds
