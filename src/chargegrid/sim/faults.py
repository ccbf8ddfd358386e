"""Fault injection for simulated chargers: what real chargers do to a CSMS.

Every option reproduces one behaviour seen in the field, and every one of them is
reflected in what the car PHYSICALLY draws (``DrawLog``), not only in what the charger
reports. docs/simulator.md describes each option's exact semantics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What the charger does with a CALL from the central system before its BootNotification
# has been answered Accepted.
CallsBeforeBoot = Literal["answer", "security_error", "ignore"]
# What its MeterValues carry: per-phase current + total power + energy + SoC; total power
# + energy only; per-phase power + energy only (never Current.Import in the last two).
MeterReport = Literal["current", "power", "phase_power"]


@dataclass(frozen=True)
class Faults:
    # Close the WebSocket about every N real seconds (None: never); the charger buffers
    # transaction messages meanwhile and replays them on reconnect, without rebooting
    # (its first message on the new connection is not a BootNotification).
    drop_link_every_s: float | None = None
    # Probability that a SetChargingProfile is answered Rejected.
    refuse_profiles: float = 0.0
    # Seconds before answering any CALL from the central system.
    answer_delay_s: float = 0.0
    # From its second connection on (after a link drop or a reboot), a SetChargingProfile
    # above stack level 0 (a live limit, not a stack-level-0 failsafe) is answered, and
    # only then obeyed, this many real seconds late: it acknowledges its failsafe at once
    # but leaves the renewal of its live limit unanswered past the CSMS's timeout.
    live_profile_delay_after_reconnect_s: float = 0.0
    # Probability that a session ignores its limit (draws the car's max) for a while.
    ignore_limits: float = 0.0
    ignore_for_s: float = 120.0  # simulated seconds
    # A reboot (Reset Hard, power cut) keeps every charging profile, TxProfiles included.
    # Without it TxProfiles are lost; TxDefaultProfile and ChargePointMaxProfile are
    # persisted either way, as 1.6 expects of a charger.
    keep_profiles_on_reboot: bool = False
    # After a reboot the transaction goes on under the same transactionId (the car draws
    # again as soon as the charger is powered, before it has even reconnected). Without
    # it the transaction ends: StopTransaction (HardReset / PowerLoss) after the boot.
    resume_after_reboot: bool = False
    # 1-3 real seconds after every accepted BootNotification a car starts charging on
    # every connector (a plugged-in car without a transaction starts one, a free
    # connector gets a new car), before the CSMS had time to send any profile.
    start_before_profile: bool = False
    # What the charger does with CSMS calls before its BootNotification is accepted.
    # TriggerMessage(BootNotification) is always answered (and acted upon).
    calls_before_boot: CallsBeforeBoot = "answer"
    # Real seconds the charger says nothing after the socket opens (no BootNotification,
    # no StatusNotification) unless asked with TriggerMessage(BootNotification).
    boot_delay_s: float = 0.0
    meter_report: MeterReport = "current"
    # The charger stores TxDefaultProfiles (and answers Accepted) but its physical draw
    # ignores them: only TxProfile and ChargePointMaxProfile limit the car.
    ignore_tx_default_profile: bool = False
    # StartTransaction refused (Invalid, ConcurrentTx, ...): the charger treats the
    # transaction as not started and sends no StopTransaction, yet the car draws on.
    charge_after_refused_start: bool = False
    # Simulated seconds a car keeps its draw after its limit is lowered before it starts
    # to slow down (IEC 61851-1 allows up to 5 s); 0: it follows at once (ramping down).
    car_reaction_s: float = 0.0
