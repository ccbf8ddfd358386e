"""Several nodes on PostgreSQL and NATS (issue 15).

``held_limits``: what each EVSE may still obey as its site's owner booked it, so the
node that takes a site over starts from what chargers acknowledged (store/held_limits.py).

Revision ID: ocpp_0016
Revises: ocpp_0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0016"
down_revision = "ocpp_0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_limits",
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("live_amps", sa.Float(), nullable=True),
        sa.Column("live_phases", sa.Integer(), nullable=True),
        sa.Column("live_tx", sa.JSON(), nullable=True),
        sa.Column("live_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failsafe_amps", sa.Float(), nullable=True),
        sa.Column("failsafe_phases", sa.Integer(), nullable=True),
        sa.Column("uncertain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charger_id", "evse_number", name="pk_held_limits"),
    )


def downgrade() -> None:
    op.drop_table("held_limits")
