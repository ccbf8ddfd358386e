"""Benchmark sites: site -> circuits -> chargers, one session per charger, mixed 1- and
3-phase cars on rotated circuits and chargers, several minimums and priorities."""

from __future__ import annotations

import random

from chargegrid.balancing import Demand, Node, Problem, uniform
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import PhaseRotation

ROTATIONS = [PhaseRotation.parse(r) for r in ("RST", "STR", "TRS")]


def site(
    circuits: int, chargers_per_circuit: int, seed: int, site_per_charger: float = 4.0
) -> Problem:
    """``circuits x chargers_per_circuit`` sessions. Limits are chosen so that every level
    binds somewhere: a charger's own 32 A, a circuit's 5 A per charger on average, the
    site's ``site_per_charger`` A per charger minus a building load, unequal per phase
    (with 12 A per charger the site stops binding and the rotated circuits decide)."""
    rng = random.Random(seed)
    sessions = circuits * chargers_per_circuit
    site_limit = site_per_charger * sessions
    nodes = [
        Node(
            "site",
            None,
            uniform(site_limit),
            unmanaged=(0.05 * site_limit, 0.10 * site_limit, 0.0),
        )
    ]
    demands = []
    for c in range(circuits):
        circuit = f"circuit-{c:03d}"
        nodes.append(
            Node(circuit, "site", uniform(5.0 * chargers_per_circuit), rng.choice(ROTATIONS))
        )
        for k in range(chargers_per_circuit):
            charger = f"{circuit}/charger-{k:03d}"
            nodes.append(Node(charger, circuit, uniform(32.0), rng.choice(ROTATIONS)))
            one_phase = rng.random() < 0.35
            demands.append(
                Demand(
                    session_id=f"{charger}/s",
                    node_id=charger,
                    max_current=rng.choice([10.0, 16.0, 16.0, 32.0, 32.0]),
                    power_type=PowerType.AC_1_PHASE if one_phase else PowerType.AC_3_PHASE,
                    min_current=rng.choice([6.0, 6.0, 6.0, 8.0]),
                    weight=rng.choice([1.0, 1.0, 1.0, 2.0]),
                    plugged_in_at=float(rng.randrange(86_400)),
                    can_switch_phases=not one_phase and rng.random() < 0.5,
                )
            )
    return Problem(
        nodes=tuple(nodes), demands=tuple(demands), three_to_one_phase_switch_current=None
    )
