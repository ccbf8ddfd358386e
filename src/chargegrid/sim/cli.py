"""``chargegrid simulate``: run a fleet against any OCPP 1.6J / 2.0.1 central system."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from chargegrid.sim.faults import CallsBeforeBoot, Faults, MeterReport
from chargegrid.sim.fleet import Fleet, FleetConfig
from chargegrid.sim.registration import register_fleet

CALLS_BEFORE_BOOT: dict[str, CallsBeforeBoot] = {
    "answer": "answer",
    "security-error": "security_error",
    "ignore": "ignore",
}
METER_REPORTS: dict[str, MeterReport] = {
    "current": "current",
    "power": "power",
    "phase-power": "phase_power",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS base URL")
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--connectors", type=int, choices=(1, 2), default=1)
    parser.add_argument("--prefix", default="SIM-", help="charge point ids are PREFIX001...")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument("--three-phase-share", type=float, default=0.75)
    parser.add_argument("--mean-idle", type=float, default=900.0, help="s between cars")
    parser.add_argument("--mean-stay", type=float, default=3600.0, help="s a car stays")
    parser.add_argument("--sessions-csv", type=Path, help="replay car visits from a CSV")
    parser.add_argument("--password", help="Basic-auth password of every charger")
    parser.add_argument(
        "--ocpp",
        choices=("1.6", "2.0.1", "mixed"),
        default="1.6",
        help="protocol of the chargers (mixed: every second one speaks 2.0.1)",
    )
    register = parser.add_argument_group("create the chargers in a chargegrid server first")
    register.add_argument("--api", metavar="URL", help="e.g. http://127.0.0.1:8180/api/v1")
    register.add_argument("--token", help="an admin or service token")
    register.add_argument(
        "--site", metavar="SITE_ID", help="default: the circuit's site, else the first site"
    )
    register.add_argument("--circuit", metavar="CIRCUIT_ID", help="put new chargers on it")
    faults = parser.add_argument_group("fault injection (docs/simulator.md)")
    faults.add_argument("--drop-link-every", type=float, metavar="S")
    faults.add_argument("--refuse-profiles", type=float, default=0.0, metavar="P")
    faults.add_argument("--answer-delay", type=float, default=0.0, metavar="S")
    faults.add_argument(
        "--live-profile-delay-after-reconnect", type=float, default=0.0, metavar="S"
    )
    faults.add_argument("--ignore-limits", type=float, default=0.0, metavar="P")
    faults.add_argument("--ignore-for", type=float, default=120.0, metavar="S")
    faults.add_argument("--keep-profiles-on-reboot", action="store_true")
    faults.add_argument("--resume-after-reboot", action="store_true")
    faults.add_argument("--start-before-profile", action="store_true")
    faults.add_argument(
        "--calls-before-boot", choices=("answer", "security-error", "ignore"), default="answer"
    )
    faults.add_argument("--boot-delay", type=float, default=0.0, metavar="S")
    faults.add_argument(
        "--meter-report", choices=("current", "power", "phase-power"), default="current"
    )
    faults.add_argument("--ignore-tx-default-profile", action="store_true")
    faults.add_argument("--charge-after-refused-start", action="store_true")
    faults.add_argument(
        "--car-reaction",
        type=float,
        default=0.0,
        metavar="S",
        help="simulated s a car keeps its draw after a lower limit (IEC 61851: up to 5)",
    )


def config_from(args: argparse.Namespace) -> FleetConfig:
    return FleetConfig(
        url=args.url,
        chargers=args.chargers,
        connectors=args.connectors,
        prefix=args.prefix,
        seed=args.seed,
        speed=args.speed,
        three_phase_share=args.three_phase_share,
        mean_idle_s=args.mean_idle,
        mean_stay_s=args.mean_stay,
        sessions_csv=args.sessions_csv,
        password=args.password,
        faults=faults_from(args),
        ocpp=args.ocpp,
    )


def faults_from(args: argparse.Namespace) -> Faults:
    return Faults(
        drop_link_every_s=args.drop_link_every,
        refuse_profiles=args.refuse_profiles,
        answer_delay_s=args.answer_delay,
        live_profile_delay_after_reconnect_s=args.live_profile_delay_after_reconnect,
        ignore_limits=args.ignore_limits,
        ignore_for_s=args.ignore_for,
        keep_profiles_on_reboot=args.keep_profiles_on_reboot,
        resume_after_reboot=args.resume_after_reboot,
        start_before_profile=args.start_before_profile,
        calls_before_boot=CALLS_BEFORE_BOOT[args.calls_before_boot],
        boot_delay_s=args.boot_delay,
        meter_report=METER_REPORTS[args.meter_report],
        ignore_tx_default_profile=args.ignore_tx_default_profile,
        charge_after_refused_start=args.charge_after_refused_start,
        car_reaction_s=args.car_reaction,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = config_from(args)
    fleet = Fleet(config)

    async def main() -> None:
        if args.api:
            if not args.token:
                raise SystemExit("--api needs --token")
            specs = [c.spec for c in fleet.chargers.values()]
            await register_fleet(
                args.api, args.token, specs, config.id_tags, args.site, args.circuit
            )
        await fleet.run_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chargegrid simulate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
