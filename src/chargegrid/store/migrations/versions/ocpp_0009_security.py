"""Security (issue 13 part 1): a charger's pending password during a rotation, and the
security event log (the charger's SecurityEventNotifications and the CSMS's own:
refused handshakes, rotations, profile changes).

``chargers.pending_password_hash``: the password the charger accepted through
ChangeConfiguration AuthorizationKey / SetVariables BasicAuthPassword; both it and
``password_hash`` are accepted until the charger connects with it, which makes it the
only one (``services/password_rotation.py``).

Revision ID: ocpp_0009
Revises: ocpp_0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "ocpp_0009"
down_revision = "ocpp_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch mode (see ocpp_0005).
    op.add_column("chargers", sa.Column("pending_password_hash", sa.String(200), nullable=True))
    op.create_table(
        "security_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "charger_id",
            sa.Uuid(),
            sa.ForeignKey("chargers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # "charger" (SecurityEventNotification) or "csms" (what the server saw or did).
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("tech_info", sa.String(255), nullable=True),
        # "critical" for the events the OCPP security event list marks critical.
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_events_charger", "security_events", ["charger_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_security_events_charger", table_name="security_events")
    op.drop_table("security_events")
    op.drop_column("chargers", "pending_password_hash")
