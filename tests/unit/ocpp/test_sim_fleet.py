"""Fleet wiring and CSV replay, without a server (the chargers stay unconnected)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from chargegrid.sim.fleet import Fleet, FleetConfig, charger_specs, read_sessions_csv
from chargegrid.sim.registration import register_fleet

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


def test_every_car_gets_a_tag_no_other_car_holds() -> None:
    fleet = Fleet(FleetConfig(chargers=3, connectors=2, url="ws://127.0.0.1:1/ocpp"))
    assert len(fleet.config.id_tags) == 12  # two per connector
    assert len(set(fleet.config.id_tags)) == 12
    connectors = [(c, n) for c in fleet.chargers.values() for n in c.connectors]
    for charger, number in connectors:
        charger.connectors[number].car = fleet._new_car()
    for _ in range(30):  # cars come and go; never two cars with one tag
        charger, number = connectors[fleet.rng.randrange(len(connectors))]
        freed = charger.connectors[number].car
        assert freed is not None
        charger.connectors[number].car = fleet._new_car()
        held = [c.connectors[n].car for c, n in connectors]
        tags = [car.id_tag for car in held if car is not None]
        assert len(set(tags)) == len(tags) == 6
        assert charger.connectors[number].car.id_tag != freed.id_tag  # type: ignore[union-attr]


async def test_registration_places_chargers_on_the_circuit_and_adds_tags() -> None:
    site, circuit = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    posted: list[tuple[str, dict[str, object]]] = []
    limited = {"once": True}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.path == f"/api/v1/circuits/{circuit}"
            return httpx.Response(200, json={"id": circuit, "site_id": site})
        if limited["once"]:  # the rate limit is waited out
            limited["once"] = False
            return httpx.Response(429, headers={"Retry-After": "0"})
        posted.append((request.url.path, json.loads(request.content)))
        return httpx.Response(201, json={})

    config = FleetConfig(chargers=2, prefix="T-")
    created = await register_fleet(
        "http://csms.invalid/api/v1",
        "token",
        charger_specs(config),
        config.id_tags,
        circuit_id=circuit,
        transport=httpx.MockTransport(answer),
    )
    assert created == 2
    chargers = [body for path, body in posted if path.endswith("/chargers")]
    assert [c["ocpp_id"] for c in chargers] == ["T-001", "T-002"]
    assert all(c["site_id"] == site and c["circuit_id"] == circuit for c in chargers)
    specs = charger_specs(config)
    assert [c["connectors"] for c in chargers] == [
        [
            {
                "connector_id": 1,
                "power_type": "AC_1_PHASE" if s.phases == 1 else "AC_3_PHASE",
                "phase_rotation": s.rotations[0],
                "max_amperage": 32,
            }
        ]
        for s in specs
    ]
    tags = [body["id_tag"] for path, body in posted if path.endswith("/id-tags")]
    assert tags == list(config.id_tags) == ["T-TAG-0001", "T-TAG-0002", "T-TAG-0003", "T-TAG-0004"]


async def test_a_visit_without_a_tag_gets_a_free_one(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(CSV.replace("TAG-A", ""))
    fleet = Fleet(FleetConfig(chargers=3, sessions_csv=path, url="ws://127.0.0.1:1/ocpp"))
    fleet.step(1.0)
    car = fleet.charger("SIM-002").connectors[1].car
    assert car is not None and car.id_tag in fleet.config.id_tags
    await fleet.stop()
