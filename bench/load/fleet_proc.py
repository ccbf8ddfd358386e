"""The benchmark's simulated chargers in their own process: every charger gets a car
that stays, so all of them charge. Runs until its standard input closes.

    python -m bench.load.fleet_proc --url ws://127.0.0.1:PORT/ocpp --chargers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from chargegrid.sim.car import Car
from chargegrid.sim.fleet import Fleet, FleetConfig


def fleet_config(url: str, chargers: int) -> FleetConfig:
    """Shared with the parent, which configures the same chargers in the database."""
    return FleetConfig(url=url, chargers=chargers, seed=5, speed=1.0, tick_s=1.0, mean_idle_s=1e9)


async def run(url: str, chargers: int) -> None:
    fleet = Fleet(fleet_config(url, chargers))
    await fleet.start()
    plugged: set[str] = set()
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    try:
        while not stdin_closed.done():
            for charger in fleet.chargers.values():
                spec = charger.spec
                if spec.ocpp_id in plugged or not charger.booted.is_set():
                    continue
                charger.plug_in(
                    1,
                    Car(
                        f"car-{spec.ocpp_id}",
                        phases=spec.phases,
                        max_current=32.0,
                        battery_wh=1e8,
                        soc=10.0,
                        stay_s=1e9,
                        id_tag=f"BENCH-{spec.ocpp_id}",
                    ),
                )
                plugged.add(spec.ocpp_id)
            await asyncio.wait({stdin_closed}, timeout=0.5)  # poll for new boots
    finally:
        await fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--chargers", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.url, args.chargers))


if __name__ == "__main__":
    main()
