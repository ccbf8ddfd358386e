"""The event and audit log (issue 14): charger events from the bus and configuration
changes with who made them, old -> new (``store/event_log.py``).

No foreign keys on ``site_id``/``charger_id``: the log outlives what it is about.

Revision ID: ocpp_0012
Revises: ocpp_0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "ocpp_0012"
down_revision = "ocpp_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("charger_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("actor_role", sa.String(16), nullable=True),
        sa.Column("actor_token_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(32), nullable=True),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_event_log_site", "event_log", ["site_id", "id"])
    op.create_index("ix_event_log_charger", "event_log", ["charger_id", "id"])
    op.create_index("ix_event_log_at", "event_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_event_log_at", table_name="event_log")
    op.drop_index("ix_event_log_charger", table_name="event_log")
    op.drop_index("ix_event_log_site", table_name="event_log")
    op.drop_table("event_log")
