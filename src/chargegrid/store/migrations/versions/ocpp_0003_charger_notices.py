"""OCPP server: what chargers report outside the core model (DataTransfer, firmware,
diagnostics, log and security notices), kept as they came (chargegrid/ocpp/tables.py).

Revision ID: ocpp_0003
Revises: ocpp_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0003"
down_revision = "ocpp_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charger_notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "charger_id",
            sa.Uuid(),
            sa.ForeignKey(
                "chargers.id", ondelete="CASCADE", name="fk_charger_notices_charger_id_chargers"
            ),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_notices")),
    )
    op.create_index(
        "ix_charger_notices_charger_received", "charger_notices", ["charger_id", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_charger_notices_charger_received", table_name="charger_notices")
    op.drop_table("charger_notices")
