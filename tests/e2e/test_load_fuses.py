"""Live load management end to end: our OCPP server, the control loop and the simulator
over real sockets on 127.0.0.1, judged by what the simulated cars PHYSICALLY draw.

Site (63 A main fuse)
 ├─ circuit A, 32 A: A1 3-phase (RST), A2 1-phase on S (grid L2)
 └─ circuit B, 20 A: B1 3-phase (STR), B2 1-phase on T (grid L3)

Every test scans every draw sample the simulator recorded and checks, at every sample,
every fuse on every phase: site 63 A, A 32 A, B 20 A (plus the simulated building
load where a test adds one).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargegrid.control.loop import ControlLoop
from chargegrid.sim.faults import Faults
from chargegrid.store import models as m
from chargegrid.store.charger_store import SqlChargerStore
from tests.e2e import fuse_site
from tests.e2e.conftest import Csms, eventually
from tests.e2e.fuse_site import (
    A_A,
    B_A,
    CHARGERS,
    LOOP,
    SITE_A,
    TICK_S,
    Site,
)
from tests.e2e.fuse_site import later_samples as _later_samples
from tests.e2e.fuse_site import seed_site as _seed
from tests.e2e.fuse_site import sim_specs as _specs
from tests.e2e.fuse_site import start_site as _start
from tests.e2e.fuse_site import stop_site as _stop
from tests.e2e.fuse_site import value as _value

# The site and its helpers live in fuse_site.py; these names stay importable from here
# for the suites that imported them from this module.
__all__ = ["A_A", "B_A", "CHARGERS", "LOOP", "SITE_A", "TICK_S", "Site", "_seed", "_specs"]

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True, params=["mixed", "all-1.6"])
def fleet_versions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every scenario on the mixed 1.6 + 2.0.1 fleet, and on 1.6 chargers alone."""
    versions = dict(fuse_site.MIXED) if request.param == "mixed" else {}
    monkeypatch.setattr(fuse_site, "FLEET_VERSIONS", versions)
    return str(request.param)


async def test_cut_from_63_to_10_amps(csms: Csms) -> None:
    site = await _start(csms)
    try:
        site.plug_all()
        await site.charging()
        cut_at = await site.set_available(10.0)

        async def within_10() -> bool:
            return max(site.now_total()["site"]) <= 10.0 + 1e-6

        await eventually(within_10, timeout=10, what="the site under 10 A on every phase")
        converged_at = time.monotonic()
        # Cars follow within seconds (IEC 61851 allows 5 s; Zaptec promises 5 s).
        assert converged_at - cut_at < 5.0
        # It stays there: let the loop and the meter values run on for a while.
        await eventually(
            lambda: _later_samples(site, converged_at + 2.0), what="two more seconds of samples"
        )
        assert site.scan(since=converged_at, site_limit=10.0) == []
        assert site.scan() == []  # the physical fuses held all along
        view = site.loop.view(str(site.site_id))
        assert view is not None
        assert all(p["limit"] == 10.0 for p in view["nodes"][0]["phases"].values())
    finally:
        await _stop(site)


async def test_charger_refusing_profiles_is_worked_around(csms: Csms) -> None:
    site = await _start(csms, {"A1": Faults(refuse_profiles=1.0)})
    try:
        site.plug_all(max_current=16.0)
        await site.charging(["A1", "B1", "B2"])
        a1 = str(site.charger_ids["A1"])

        async def a1_flagged() -> bool:
            view = site.loop.view(str(site.site_id))
            return view is not None and any(
                s["charger_id"] == a1 and s["reason"] == "charger_flagged" for s in view["sessions"]
            )

        await eventually(a1_flagged, what="A1 flagged after refusing")
        # A1 may draw its hardware's 32 A: A2 (L2 on the same 32 A circuit) gets nothing.
        a2 = str(site.charger_ids["A2"])

        async def a2_stopped() -> bool:
            # Planned at 0 A, and drawing nothing (a car not started yet also draws 0 A:
            # the plan is what says it was stopped).
            view = site.loop.view(str(site.site_id))
            planned = view is not None and any(
                s["charger_id"] == a2 and s["limit"] == 0.0 for s in view["sessions"]
            )
            sample = site.fleet.draw_log.latest("A2", 1)
            return planned and sample is not None and sample.l2 == 0.0

        await eventually(a2_stopped, what="A2 planned at and drawing 0 A beside the unsteerable A1")
        started = time.monotonic()
        await eventually(lambda: _later_samples(site, started + 1.0), what="more samples")
        assert site.scan() == []
    finally:
        await _stop(site)


async def test_link_drops_mid_session(csms: Csms) -> None:
    site = await _start(csms, {"B1": Faults(drop_link_every_s=1.0)})
    try:
        site.plug_all()
        await site.charging()
        b1 = site.fleet.charger("B1")
        await eventually(lambda: _value(b1.connected_count >= 3), timeout=20, what="B1 drops")
        await site.set_available(25.0)
        started = time.monotonic()
        await eventually(lambda: _later_samples(site, started + 3.0), what="3 s of samples")
        assert site.scan() == []
        # While it comes and goes, B1 is counted at what it may draw; the rest fits.
        assert max(site.now_total()["site"]) <= 25.0 + 1e-6
    finally:
        await _stop(site)


async def test_stale_meter_reserves_its_offline_current(csms: Csms) -> None:
    site = await _start(csms)
    meter_id = uuid.uuid4()
    async with csms.db.session() as s:
        s.add(m.ElectricityMeter(id=meter_id, site_id=site.site_id, name="B", max_age_s=1))
        circuit = await s.get(m.Circuit, site.circuits["B"])
        assert circuit is not None
        circuit.electricity_meter_id = meter_id
        circuit.offline_reserved_current = 10.0
    csms.bus.publish("config.changed", {"kind": "circuit", "site_id": str(site.site_id)})
    # A heat pump on circuit B, invisible to OCPP. 3 A leaves B1 and B2 8.5 A each on
    # grid L3. Near their 6 A minimum (8 A of building load: both exactly at it; 5 A:
    # 7.5 A each, once in a few CI runs on the mixed fleet) the meter-minus-cars estimate
    # (peak-held, and over-stated while a car ramps faster than its own readings) kept
    # the second car out for seconds at a time: a known weakness of admission on metered
    # circuits (see the issue notes), not what this test is about.
    site.building_b = (3.0, 3.0, 3.0)
    feeding = True

    async def meter() -> None:
        while feeding:
            total = site.now_total()["B"]  # the building plus our cars on B
            csms.bus.publish(
                "meter.reading",
                {
                    "meter_id": str(meter_id),
                    "site_id": str(site.site_id),
                    "timestamp": datetime.now(UTC).isoformat(),
                    "current_l1": total[0],
                    "current_l2": total[1],
                    "current_l3": total[2],
                },
            )
            await asyncio.sleep(0.2)  # the meter's own reading interval

    feeder = asyncio.create_task(meter())
    try:
        site.plug_all()
        await site.charging()

        async def unmanaged_b(low: float, high: float) -> bool:
            view = site.loop.view(str(site.site_id))
            if view is None:
                return False
            node = next(n for n in view["nodes"] if n["id"] == str(site.circuits["B"]))
            return all(low <= p["unmanaged"] <= high for p in node["phases"].values())

        await eventually(lambda: unmanaged_b(2.9, 4.9), what="B's unmanaged load from the meter")
        feeding = False
        await feeder
        await eventually(lambda: unmanaged_b(10.0, 10.0), what="the stale meter's 10 A reserve")
        started = time.monotonic()
        await eventually(lambda: _later_samples(site, started + 1.5), what="more samples")
        assert site.scan() == []
    finally:
        feeding = False
        await feeder
        await _stop(site)


async def test_server_killed_and_restarted_mid_session(csms: Csms, tmp_path: Path) -> None:
    site = await _start(csms)
    try:
        site.plug_all()
        await site.charging()
        port = csms.port
        await site.loop.stop()
        await csms.central.stop()
        killed_at = time.monotonic()
        # Offline, every lease runs out and the chargers fall back to their failsafes.
        lease = LOOP.apply.lease_s
        await eventually(
            lambda: _later_samples(site, killed_at + lease + 1.0),
            timeout=lease + 10,
            what="the leases to run out",
        )
        assert site.scan() == []
        store = SqlChargerStore(csms.db.engine)
        central = type(csms.central)(store, csms.bus, heartbeat_interval=60)
        await central.start("127.0.0.1", port)
        csms.central = central
        loop = ControlLoop(csms.db.session, csms.bus, central.gateway, LOOP)
        site.loop = loop
        await loop.start()

        async def live_again() -> bool:
            return all(
                any(p.purpose == "TxProfile" for p in site.fleet.charger(o).profiles.profiles)
                for o in CHARGERS
            )

        await eventually(live_again, timeout=20, what="live profiles after the restart")
        await site.set_available(20.0)
        changed = time.monotonic()
        await eventually(lambda: _later_samples(site, changed + 3.0), what="3 s of samples")
        assert site.scan() == []
        assert max(site.now_total()["site"]) <= 20.0 + 1e-6
    finally:
        await _stop(site)
