"""OCPP server: append-only meter-value inbox (see chargegrid/ocpp/meter_inbox.py), and an
index for StartTransaction's "is this id tag already charging?" (ConcurrentTx) check.

Revision ID: ocpp_0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meter_value_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_value_inbox")),
    )

    op.create_index("ix_sessions_id_tag_active", "sessions", ["id_tag", "stopped_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_id_tag_active", table_name="sessions")
    op.drop_table("meter_value_inbox")
