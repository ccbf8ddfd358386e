"""Sessions: refused starts, reboots and operator ends (docs/ocpp.md "Refused starts",
"When a session ends"). Existing rows count as Accepted, as they were treated so far.

Revision ID: ocpp_0005
Revises: ocpp_0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0005"
down_revision = "ocpp_0004"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, no batch mode: on SQLite, batch mode would copy the table,
# and dropping the old copy would cascade to every meter value row of its sessions.
def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column(
            "authorization_status",
            sa.String(length=16),
            nullable=False,
            server_default="Accepted",
        ),
    )
    op.add_column("sessions", sa.Column("rebooted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sessions", sa.Column("ended_by", sa.String(length=64), nullable=True))
    op.add_column("sessions", sa.Column("end_reason", sa.String(length=500), nullable=True))
    op.create_index("ix_sessions_open", "sessions", ["stopped_at", "authorization_status"])


def downgrade() -> None:
    op.drop_index("ix_sessions_open", table_name="sessions")
    for column in ("end_reason", "ended_by", "rebooted_at", "authorization_status"):
        op.drop_column("sessions", column)
