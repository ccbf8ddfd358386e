"""acnportal's real Caltech ACN network as our ``Problem``, judged by acnportal itself.

``acnportal.acnsim.network.sites.caltech_acn`` wires 54 stations line-to-line at 208 V
(AB at 30°, BC at -90°, CA at 150°), two 80 A pods, and a delta-wye transformer
(480 V to 120 V, ratio 4) whose secondary lines and primary lines are limited on their
phasor sums. ``CaltechNetwork`` reads those numbers from acnportal's own network and
builds our nodes in one of three wirings:

- ``transformer``: the site is a ``Transformer`` node (phasor lines, primary limit),
  the pods circuits under it, every station a line-to-line session (issue 16);
- ``derated``: a per-phase tree, the site's per-line limit cut to what keeps the primary
  safe on sums of magnitudes (primary A <= (|I_a| + |I_c|) / 4): min(secondary,
  2 x primary) = sqrt3/2 of the secondary;
- ``per_phase``: a per-phase tree at the secondary limit (what the tree could say
  before): its plans overload the primary.

It implements ``replay.NetworkModel``, so the replay's ``Chargegrid`` scheduler runs on
it (``real_evses``: acnportal's AeroVironment and ClipperCreek stations with their
allowed pilots; else continuous BASIC ones, so that the wiring alone is compared);
``measure`` is the wiring comparison recorded in bench/results/allocator.md (run:
``.venv/bin/python -m bench.allocator.caltech``).
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from acnportal import acnsim
from acnportal.acnsim.network.sites import caltech_acn

from chargegrid.balancing import Demand, Node
from chargegrid.balancing import wiring as wiring_module
from chargegrid.balancing.model import Transformer
from chargegrid.balancing.tree import clear_topology_cache
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import PhaseRotation

from .replay import PERIOD_MIN, Chargegrid, Row, events, load_rows

VOLTAGE = 208.0
# acnportal's angle of a station's current -> the two lines it sits between.
PAIR_OF_ANGLE = {30.0: "RS", -90.0: "ST", 150.0: "TR"}
WIRINGS = ("transformer", "derated", "per_phase")


class CaltechNetwork:
    """One description of the Caltech ACN for both sides (``replay.NetworkModel``)."""

    # Every station is line-to-line and the deadlines count energy as voltage x the
    # lines a session loads (2): half of 208 V gives the 208 W per A a station takes.
    problem_voltage = VOLTAGE / 2

    def __init__(self, wiring: str = "transformer", *, real_evses: bool = False) -> None:
        if wiring not in WIRINGS:
            raise ValueError(f"wiring must be one of {WIRINGS}")
        self.wiring = wiring
        self.basic = not real_evses
        self.name = f"Caltech ACN ({wiring})"
        reference = caltech_acn(basic_evse=True, voltage=VOLTAGE)
        angles = dict(zip(reference.station_ids, reference._phase_angles, strict=True))
        self.pairs = {s: PhaseRotation.parse(PAIR_OF_ANGLE[float(a)]) for s, a in angles.items()}
        self.pod_of: dict[str, str] = {}
        matrix, names = reference.constraint_matrix, reference.constraint_index
        for row, name in zip(matrix, names, strict=True):
            if "Pod" in name:
                for station, coefficient in zip(reference.station_ids, row, strict=True):
                    if coefficient:
                        self.pod_of[station] = name
        # The transformer's ratio: a station's share of a primary line is 1/ratio.
        primary_a = matrix[names.index("Primary A")]
        ab = next(i for i, s in enumerate(reference.station_ids) if angles[s] == 30.0)
        self.ratio = float(1.0 / abs(primary_a[ab]))

    @property
    def station_ids(self) -> list[str]:
        return sorted(self.pairs)

    def network(self, station_ids: Sequence[str], capacity_kw: float) -> Any:
        """acnportal's network (every Caltech station; ``station_ids`` must be among them)."""
        unknown = set(station_ids) - set(self.pairs)
        if unknown:
            raise ValueError(f"not Caltech stations: {sorted(unknown)[:3]}")
        return caltech_acn(basic_evse=self.basic, voltage=VOLTAGE, transformer_cap=capacity_kw)

    def limits(self, capacity_kw: float) -> dict[str, float]:
        network = self.network([], capacity_kw)
        return dict(zip(network.constraint_index, network.magnitudes, strict=True))

    def nodes(self, capacity_kw: float) -> tuple[Node, ...]:
        limits = self.limits(capacity_kw)
        secondary = float(min(limits[f"Secondary {x}"] for x in "ABC"))
        primary = float(min(limits[f"Primary {x}"] for x in "ABC"))
        if self.wiring == "transformer":
            site = Node(
                "site", None, (secondary,) * 3, transformer=Transformer(self.ratio, primary)
            )
        elif self.wiring == "derated":
            # Primary A <= (|I_a| + |I_c|) / ratio: each line at most primary·ratio/2.
            line = min(secondary, primary * self.ratio / 2.0)
            site = Node("site", None, (line,) * 3)
        else:
            site = Node("site", None, (secondary,) * 3)
        pods = tuple(
            Node(name, "site", (float(limits[name]),) * 3)
            for name in sorted(set(self.pod_of.values()))
        )
        return (site, *pods)

    def demand(self, station_id: str, **fields: Any) -> Demand:
        """The station's session: between its two lines, under its pod or the site."""
        return Demand(
            node_id=self.pod_of.get(station_id, "site"),
            rotation=self.pairs[station_id],
            power_type=PowerType.AC_2_PHASE,
            line_to_line=True,
            voltage=VOLTAGE,
            **fields,
        )


@dataclass
class Outcome:
    wiring: str
    sides: int
    capacity_kw: float
    delivered: float
    violations: int
    worst_over: float  # the highest constraint load / its limit, minus 1
    seconds: float


def simulate(model: CaltechNetwork, rows: Sequence[Row], capacity_kw: float) -> Outcome:
    started = time.perf_counter()
    network = model.network(sorted({r.station_id for r in rows}), capacity_kw)
    scheduler = Chargegrid(model, capacity_kw)
    sim = acnsim.Simulator(
        network, scheduler, copy.deepcopy(events(rows)), rows[0].arrival,
        period=PERIOD_MIN, verbose=False,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.run()
    violations = sum("Invalid schedule" in str(w.message) for w in caught)
    loads = network.constraint_current(sim.pilot_signals)
    worst = float(np.max(np.abs(loads) / network.magnitudes[:, None])) - 1.0
    return Outcome(
        model.wiring,
        wiring_module.SIDES,
        capacity_kw,
        float(acnsim.analysis.proportion_of_energy_delivered(sim)),
        violations,
        worst,
        time.perf_counter() - started,
    )


def set_sides(sides: int) -> None:
    """The polygon's sides (a measurement knob; compiled topologies are forgotten)."""
    wiring_module.SIDES = sides
    wiring_module.SHRINK = float(np.cos(np.pi / sides))
    clear_topology_cache()


def measure(
    first_day: str, last_day: str, capacities: Sequence[float], sides: Sequence[int] = (48,)
) -> list[Outcome]:
    model = CaltechNetwork()
    rows = [r for r in load_rows("caltech", first_day, last_day) if r.station_id in model.pairs]
    out = []
    for capacity in capacities:
        for wiring in WIRINGS:
            for n in sides if wiring == "transformer" else sides[:1]:
                set_sides(n)
                out.append(simulate(CaltechNetwork(wiring), rows, capacity))
                print(out[-1], file=sys.stderr, flush=True)
    set_sides(48)
    return out


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| capacity kW | wiring | polygon sides | energy delivered | violations (acnportal) "
        "| worst constraint load / limit |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        sides = str(o.sides) if o.wiring == "transformer" else "-"
        lines.append(
            f"| {o.capacity_kw:g} | {o.wiring} | {sides} | {100 * o.delivered:.2f} % "
            f"| {o.violations} | {100 * (1 + o.worst_over):.1f} % |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    first, last = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else ("2019-07-01", "2019-07-31")
    results = measure(first, last, (10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 150.0), (48, 720))
    print(table(results))
