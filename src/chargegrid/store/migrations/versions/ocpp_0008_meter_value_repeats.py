"""1.6 MeterValues re-sent within a transaction are stored once: a message's digest
(its connector, transactionId and samples) unique per charger, so the insert of a
repeat does nothing (``ON CONFLICT DO NOTHING``; ``meter_messages.DriverStatements``).

Revision ID: ocpp_0008
Revises: ocpp_0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0008"
down_revision = "ocpp_0007"
branch_labels = None
depends_on = None

WITH_DIGEST = sa.text("digest IS NOT NULL")


def upgrade() -> None:
    op.add_column("meter_value_messages", sa.Column("digest", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_meter_value_messages_digest",
        "meter_value_messages",
        ["charger_id", "digest"],
        unique=True,
        sqlite_where=WITH_DIGEST,
        postgresql_where=WITH_DIGEST,
    )


def downgrade() -> None:
    op.drop_index("uq_meter_value_messages_digest", table_name="meter_value_messages")
    op.drop_column("meter_value_messages", "digest")
