"""``--ocpp 1.6|2.0.1|mixed``: which chargers of a fleet speak 2.0.1."""

from __future__ import annotations

import argparse

from chargegrid.sim.charger import SimCharger
from chargegrid.sim.cli import add_arguments, config_from
from chargegrid.sim.fleet import Fleet, FleetConfig, charger_specs
from chargegrid.sim.link import ChargerLink
from chargegrid.sim.v201.link import dial_websocket_201
from chargegrid.sim.v201.station import SimStation201


def test_mixed_alternates_by_index_and_the_fleet_runs_a_station_per_2_0_1_spec() -> None:
    config = FleetConfig(chargers=5, ocpp="mixed")
    specs = charger_specs(config)
    assert [s.ocpp_version for s in specs] == ["1.6", "2.0.1", "1.6", "2.0.1", "1.6"]
    # The rest of the specs is what a 1.6 fleet of the same seed gets.
    plain = charger_specs(FleetConfig(chargers=5))
    assert [(s.phases, s.rotations) for s in specs] == [(s.phases, s.rotations) for s in plain]
    fleet = Fleet(config)
    kinds = [type(c) for c in fleet.chargers.values()]
    assert kinds == [SimCharger, SimStation201, SimCharger, SimStation201, SimCharger]
    v201 = fleet.charger("SIM-002")
    assert v201.schema_version == "v201" and v201.dial is dial_websocket_201
    assert fleet.charger("SIM-001").schema_version == ChargerLink.schema_version == "v16"


def test_all_of_one_version() -> None:
    assert {s.ocpp_version for s in charger_specs(FleetConfig(chargers=3))} == {"1.6"}
    assert {s.ocpp_version for s in charger_specs(FleetConfig(chargers=3, ocpp="2.0.1"))} == {
        "2.0.1"
    }


def test_cli_option() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from(parser.parse_args([])).ocpp == "1.6"
    assert config_from(parser.parse_args(["--ocpp", "mixed"])).ocpp == "mixed"
    assert config_from(parser.parse_args(["--ocpp", "2.0.1"])).ocpp == "2.0.1"
