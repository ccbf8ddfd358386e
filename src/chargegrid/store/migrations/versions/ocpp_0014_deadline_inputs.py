"""Where a session's departure and energy wanted come from
(issue 16: API, id tag defaults, NotifyEVChargingNeeds, prediction; docs/deadlines.md).

Sessions: ``departure_source`` and ``energy_wanted_source`` (api | charger |
id_tag_default | predicted), ``departure_confidence`` (0..1), and what the car itself
last asked for (``ev_departure_time``, ``ev_energy_wanted_wh``), kept apart so that
clearing an API value falls back to the car's. Id tags: their defaults
(``default_departure_time`` "HH:MM" local to the site, ``default_dwell_s``,
``default_energy_wh``).

Revision ID: ocpp_0014
Revises: ocpp_0013
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0014"
down_revision = "ocpp_0013"
branch_labels = None
depends_on = None

_SESSION_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("departure_source", sa.String(length=16)),
    ("departure_confidence", sa.Float()),
    ("energy_wanted_source", sa.String(length=16)),
    ("ev_departure_time", sa.DateTime(timezone=True)),
    ("ev_energy_wanted_wh", sa.Float()),
)
_TAG_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("default_departure_time", sa.String(length=5)),
    ("default_dwell_s", sa.Integer()),
    ("default_energy_wh", sa.Float()),
)


# Plain ADD/DROP COLUMN, no batch mode: on SQLite, batch mode would copy the sessions
# table, and dropping the old copy would cascade to every meter value of its sessions.
def upgrade() -> None:
    for name, type_ in _SESSION_COLUMNS:
        op.add_column("sessions", sa.Column(name, type_, nullable=True))
    for name, type_ in _TAG_COLUMNS:
        op.add_column("id_tags", sa.Column(name, type_, nullable=True))
    # The charger's needs stored so far were the only source there was.
    op.execute(
        "UPDATE sessions SET ev_departure_time = departure_time,"
        " ev_energy_wanted_wh = energy_wanted_wh,"
        " departure_source = CASE WHEN departure_time IS NULL THEN NULL ELSE 'charger' END,"
        " departure_confidence = CASE WHEN departure_time IS NULL THEN NULL ELSE 1.0 END,"
        " energy_wanted_source = CASE WHEN energy_wanted_wh IS NULL THEN NULL ELSE 'charger' END"
    )


def downgrade() -> None:
    for name, _ in reversed(_TAG_COLUMNS):
        op.drop_column("id_tags", name)
    for name, _ in reversed(_SESSION_COLUMNS):
        op.drop_column("sessions", name)
