"""Electrical unit conversions used across the core."""

from __future__ import annotations

DEFAULT_NOMINAL_VOLTAGE = 230.0  # V line-to-neutral
DEFAULT_MIN_CHARGE_CURRENT = 6.0  # A, IEC 61851 lowest PWM duty cycle


def dc_input_current(power_w: float, voltage_ln: float = DEFAULT_NOMINAL_VOLTAGE) -> float:
    """Per-phase AC input current of a DC charger drawing ``power_w`` (balanced 3-phase)."""
    return power_w / (3.0 * voltage_ln)


def ac_power(current_a: float, phases: int, voltage_ln: float = DEFAULT_NOMINAL_VOLTAGE) -> float:
    """Power in W of ``phases`` conductors each carrying ``current_a``."""
    return current_a * phases * voltage_ln


def current_for_power(
    power_w: float, phases: int, voltage_ln: float = DEFAULT_NOMINAL_VOLTAGE
) -> float:
    """Per-phase current in A for ``power_w`` spread over ``phases`` conductors."""
    return power_w / (phases * voltage_ln)
