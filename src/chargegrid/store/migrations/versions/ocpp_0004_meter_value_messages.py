"""OCPP server: meter values stored one row per message (chargegrid/store/meter_messages.py),
indexed by session and by charger; replaces the inbox and its compaction into
``meter_values``. Rows still in the inbox become message rows; ``meter_values`` keeps
what it holds and is still read.

Revision ID: ocpp_0004
Revises: ocpp_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0004"
down_revision = "ocpp_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meter_value_messages",
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
                "chargers.id", ondelete="CASCADE", name="fk_meter_value_messages_charger_id"
            ),
            nullable=False,
        ),
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey(
                "sessions.id", ondelete="CASCADE", name="fk_meter_value_messages_session_id"
            ),
            nullable=True,
        ),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_value_messages")),
    )
    op.create_index("ix_meter_value_messages_session", "meter_value_messages", ["session_id", "id"])
    op.create_index("ix_meter_value_messages_charger", "meter_value_messages", ["charger_id", "id"])
    # Inbox rows were committed and acknowledged but not yet compacted: keep them (the
    # foreign keys now demand a live charger, and a live session or none).
    op.execute(
        """
        INSERT INTO meter_value_messages (charger_id, session_id, evse_number, samples,
                                          received_at)
        SELECT i.charger_id,
               CASE WHEN i.session_id IN (SELECT id FROM sessions) THEN i.session_id END,
               i.evse_number, i.samples, i.received_at
        FROM meter_value_inbox AS i
        WHERE i.charger_id IN (SELECT id FROM chargers)
        ORDER BY i.id
        """
    )
    op.drop_table("meter_value_inbox")


def downgrade() -> None:
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
    # Message rows go back to the inbox; the old compactor moves them into meter_values.
    op.execute(
        """
        INSERT INTO meter_value_inbox (charger_id, session_id, evse_number, samples,
                                       received_at)
        SELECT charger_id, session_id, evse_number, samples, received_at
        FROM meter_value_messages ORDER BY id
        """
    )
    op.drop_index("ix_meter_value_messages_charger", table_name="meter_value_messages")
    op.drop_index("ix_meter_value_messages_session", table_name="meter_value_messages")
    op.drop_table("meter_value_messages")
