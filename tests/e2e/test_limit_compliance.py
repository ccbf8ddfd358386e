"""Rule 6 of issue 11 end to end: chargers whose meters report power only, and a car that
ignores its limit, over real sockets, judged by what the simulated cars PHYSICALLY draw.

The site of ``test_load_fuses`` (63 A; circuit A 32 A with A1 3-phase and A2 1-phase on
grid L2; circuit B 20 A with B1 3-phase and B2 1-phase). Every charger reports
``Power.Active.Import`` and the energy register only, never ``Current.Import``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from chargegrid.control.apply import EvseKey
from chargegrid.control.compliance import ComplianceSettings
from chargegrid.control.loop import ControlLoop
from chargegrid.sim.faults import Faults
from chargegrid.sim.fleet import Fleet, FleetConfig
from tests.e2e.conftest import Csms, eventually
from tests.e2e.test_load_fuses import (
    A_A,
    B_A,
    CHARGERS,
    LOOP,
    SITE_A,
    TICK_S,
    Site,
    _later_samples,
    _seed,
    _specs,
    _stop,
)

pytestmark = pytest.mark.e2e

# The simulator runs 10x faster than real time, the loop in real time: a car follows a
# new limit within a tick, readings come every 0.2 real s; 1 s is many readings.
COMPLIANCE = ComplianceSettings(reaction_s=1.0, resend_every_s=2.0)
IGNORE_FOR_SIM_S = 150.0  # A1's car ignores its limit for 15 real seconds after plug-in


async def _start(csms: Csms, faults: dict[str, Faults]) -> Site:
    site_id, circuits, chargers = await _seed(csms)
    loop = ControlLoop(
        csms.db.session, csms.bus, csms.central.gateway, replace(LOOP, compliance=COMPLIANCE)
    )
    await loop.start()
    config = FleetConfig(
        url=f"ws://127.0.0.1:{csms.port}/ocpp", speed=10.0, tick_s=TICK_S, mean_idle_s=1e9
    )
    fleet = Fleet(config, specs=_specs())
    for ocpp_id, fault in faults.items():
        fleet.charger(ocpp_id).faults = fault
    await fleet.start()
    site = Site(csms, loop, fleet, site_id, circuits, chargers)

    async def failsafes_installed() -> bool:
        return all(
            loop.engine.committed(EvseKey(str(chargers[o]), 1)) is not None for o in CHARGERS
        )

    await eventually(failsafes_installed, timeout=20, what="every charger's failsafe")
    return site


def _sessions(site: Site) -> dict[str, dict[str, Any]]:
    view = site.loop.view(str(site.site_id)) or {"sessions": []}
    by_id = {str(v): k for k, v in site.charger_ids.items()}
    return {by_id[s["charger_id"]]: s for s in view["sessions"] if s["charger_id"] in by_id}


async def test_power_only_meters_are_measured_and_a_car_ignoring_its_limit_is_planned_around(
    csms: Csms,
) -> None:
    power_only = Faults(meter_report="power")
    faults = {o: power_only for o in CHARGERS}
    faults["A1"] = Faults(meter_report="power", ignore_limits=1.0, ignore_for_s=IGNORE_FOR_SIM_S)
    events = csms.bus.subscribe("charger.limit_violation")
    site = await _start(csms, faults)
    try:
        # Cars come once every charger took its meter interval: a 2.0.1 station reports
        # at its own TxUpdatedInterval until the post-boot exchange set ours.
        async def configured() -> bool:
            rows = [await csms.charger_row(o) for o in CHARGERS]
            return all(r.config_sync == "applied" for r in rows)

        await eventually(configured, timeout=20, what="every charger's meter interval set")
        site.plug_all(max_current=32.0)
        await site.charging()

        # Rule 6, first half: no charger sends current, yet every session is measured.
        async def all_measured_from_power() -> bool:
            sessions = _sessions(site)
            return len(sessions) == len(CHARGERS) and all(
                s["measured_source"] == "power"
                and any(v is not None and v > 1.0 for v in s["measured"].values())
                for s in sessions.values()
            )

        await eventually(all_measured_from_power, timeout=10, what="sessions measured from power")

        # A1's car draws 32 A whatever it is told: flagged, then counted at its draw.
        async def a1_not_following() -> bool:
            return _sessions(site).get("A1", {}).get("reason") == "not_following_limit"

        await eventually(a1_not_following, timeout=10, what="A1 flagged not_following_limit")
        flagged_at = time.monotonic()
        event = events.get_nowait()
        assert event is not None and event.payload["ended"] is False
        assert event.payload["ocpp_id"] == "A1"
        assert event.payload["site_id"] == str(site.site_id)
        assert event.payload["measured_a"] > event.payload["limit_a"] + 1.0
        a1 = _sessions(site)["A1"]
        assert a1["measured"]["l1"] == pytest.approx(32.0, abs=0.5)

        # The others' limits go down around A1's measured draw: the physical draw is
        # back within every fuse within moments, and stays there while A1 ignores.
        async def within_fuses() -> bool:
            totals = site.now_total()
            return (
                max(totals["site"]) <= SITE_A + 1e-6
                and max(totals["A"]) <= A_A + 1e-6
                and max(totals["B"]) <= B_A + 1e-6
            )

        await eventually(within_fuses, timeout=5, what="every fuse held around A1")
        converged_at = time.monotonic()
        assert converged_at - flagged_at < 2.0
        await eventually(
            lambda: _later_samples(site, converged_at + 2.0), what="two more seconds of samples"
        )
        assert a1_still_ignoring(site), "A1's fault ended too early to judge"
        assert site.scan(since=converged_at) == []

        # Its car follows its limit again when the fault ends: the violation ends.
        async def ended() -> bool:
            return _sessions(site).get("A1", {}).get("reason") != "not_following_limit"

        await eventually(ended, timeout=25, what="A1 following its limit again")
        closing = events.get_nowait()
        while closing is not None and not closing.payload["ended"]:
            closing = events.get_nowait()
        assert closing is not None and closing.payload["reason"] == "complied"
    finally:
        events.close()
        await _stop(site)


def a1_still_ignoring(site: Site) -> bool:
    latest = site.fleet.draw_log.latest("A1", 1)
    return latest is not None and latest.l1 > 30.0
