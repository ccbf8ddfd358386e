"""Id tag deadline defaults (docs/deadlines.md): the API's validation, and the CSV
import's columns (``chargegrid tag import``)."""

from __future__ import annotations

from pathlib import Path

from chargegrid.ops_cli import read_tags
from tests.integration.conftest import Api, assert_problem


async def test_defaults_are_set_cleared_and_checked(api: Api) -> None:
    body = {"id_tag": "T1", "default_departure_time": "07:45", "default_dwell_s": 3600}
    tag = await api.ok("POST", "/id-tags", body | {"default_energy_wh": 12000})
    assert (tag["default_departure_time"], tag["default_dwell_s"]) == ("07:45", 3600)
    assert tag["default_energy_wh"] == 12000
    path = f"/id-tags/{tag['id']}"
    cleared = await api.ok("PATCH", path, {"default_departure_time": None})
    assert cleared["default_departure_time"] is None and cleared["default_dwell_s"] == 3600
    for field, bad in (
        ("default_departure_time", "24:00"),
        ("default_departure_time", "7:45"),
        ("default_departure_time", "17:30:00"),
        ("default_dwell_s", 10),
        ("default_dwell_s", 8 * 86400),
        ("default_dwell_s", "3600"),
        ("default_energy_wh", 0),
        ("default_energy_wh", 2e6),
    ):
        assert_problem(await api.call("PATCH", path, {field: bad}), 422, field)
    assert_problem(await api.call("PATCH", path, {"default_dwell_s": 600}, role="viewer"), 403)


def test_the_csv_import_sends_the_defaults_as_numbers(tmp_path: Path) -> None:
    csv_path = tmp_path / "tags.csv"
    csv_path.write_text(
        "id_tag,default_departure_time,default_dwell_s,default_energy_wh\n"
        "A,17:30,,15000\n"
        "B,,28800,7.5\n"
        "C,,soon,\n"
    )
    rows = read_tags(csv_path)
    assert rows == [
        (2, {"id_tag": "A", "default_departure_time": "17:30", "default_energy_wh": 15000.0}),
        (3, {"id_tag": "B", "default_dwell_s": 28800, "default_energy_wh": 7.5}),
        # Not a number: sent as written, for the server's 422 to name the column.
        (4, {"id_tag": "C", "default_dwell_s": "soon"}),
    ]
