"""Networks as they are wired
(issue 16: line-to-line loads, transformer nodes, allowed current steps).

Circuits: ``phasor_lines`` (line limits on phasor sums) and a delta-wye transformer
(``transformer_ratio``, ``transformer_primary_current``). Chargers: the currents they
accept (``allowed_currents``, a JSON list of A, or ``current_step``). Connectors:
``line_to_line`` (wired between two lines, no neutral). All nullable or defaulted, so
existing rows mean what they meant (per-phase sums, any current, line-to-neutral).

Revision ID: ocpp_0015
Revises: ocpp_0014
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0015"
down_revision = "ocpp_0014"
branch_labels = None
depends_on = None


_COLUMNS: tuple[tuple[str, str, sa.types.TypeEngine[Any], bool], ...] = (
    ("circuits", "phasor_lines", sa.Boolean(), True),
    ("circuits", "transformer_ratio", sa.Float(), False),
    ("circuits", "transformer_primary_current", sa.Float(), False),
    ("chargers", "allowed_currents", sa.JSON(), False),
    ("chargers", "current_step", sa.Float(), False),
    ("connectors", "line_to_line", sa.Boolean(), True),
)


# Plain ADD/DROP COLUMN (no batch mode: on SQLite it would copy the tables, and
# dropping the old copy would cascade to what hangs below them).
def upgrade() -> None:
    for table, name, type_, flag in _COLUMNS:
        # A flag is false for every existing row (sa.false(): 'false' on PostgreSQL,
        # 0 on SQLite); the rest stay NULL.
        default = sa.false() if flag else None
        op.add_column(table, sa.Column(name, type_, nullable=not flag, server_default=default))


def downgrade() -> None:
    for table, name, _, _ in reversed(_COLUMNS):
        op.drop_column(table, name)
