"""Fleet wiring and CSV replay, without a server (the chargers stay unconnected)."""

from __future__ import annotations

from pathlib import Path

from chargegrid.sim.fleet import Fleet, FleetConfig, charger_specs, read_sessions_csv

CSV = """arrive_s,stay_s,phases,max_current,battery_kwh,soc,target_soc,id_tag,ocpp_id,connector_id
120,5400,3,32,77,35,100,TAG-B,,
0,3600,1,16,60,20,80,TAG-A,SIM-002,1
"""


def test_specs_are_reproducible_and_rotate_single_phase_chargers() -> None:
    config = FleetConfig(chargers=12, seed=3)
    assert charger_specs(config) == charger_specs(config)
    one_phase = [s for s in charger_specs(config) if s.phases == 1]
    assert one_phase, "a fleet of 12 at 75 % three-phase has some 1-phase chargers"
    assert {r for s in one_phase for r in s.rotations} <= {"R", "S", "T"}
    three = [s for s in charger_specs(config) if s.phases == 3]
    assert len({s.rotations for s in three}) > 1  # not all wired RST


def test_sessions_csv_is_read_in_arrival_order(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(CSV)
    first, second = read_sessions_csv(path)
    assert (first.arrive_s, first.ocpp_id, first.connector_id) == (0.0, "SIM-002", 1)
    assert (first.car.phases, first.car.max_current, first.car.battery_wh) == (1, 16.0, 60_000.0)
    assert (first.car.soc, first.car.target_soc, first.car.id_tag) == (20.0, 80.0, "TAG-A")
    assert (second.ocpp_id, second.connector_id, second.car.stay_s) == (None, None, 5400.0)


async def test_a_replayed_visit_lands_on_its_charger(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(CSV)
    fleet = Fleet(FleetConfig(chargers=3, sessions_csv=path, url="ws://127.0.0.1:1/ocpp"))
    fleet.step(1.0)  # t = 0: only the first visit is due
    charger = fleet.charger("SIM-002")
    car = charger.connectors[1].car
    assert car is not None and car.id_tag == "TAG-A"
    assert charger.connectors[1].status == "Preparing"
    assert fleet.planned is not None and len(fleet.planned) == 1  # the 120 s visit waits
    await fleet.stop()
