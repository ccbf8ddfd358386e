"""OCPP 2.0.1: TransactionEvent identities (idempotent replays by seqNo), the device
model per charger, a charger's pinned OCPP version and phase switching, a session's
chargingState and remoteStartId, an EVSE's external limit (NotifyChargingLimit).

Revision ID: ocpp_0007
Revises: ocpp_0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "ocpp_0007"
down_revision = "ocpp_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transaction_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "charger_id",
            sa.Uuid(),
            sa.ForeignKey("chargers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(36), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("trigger_reason", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "charger_id", "transaction_id", "seq_no", name="uq_transaction_events_seq"
        ),
    )
    op.create_table(
        "charger_variables",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "charger_id",
            sa.Uuid(),
            sa.ForeignKey("chargers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("evse_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("connector_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("attribute_type", sa.String(8), nullable=False, server_default="Actual"),
        sa.Column("value", sa.String(2500), nullable=True),
        sa.Column("mutability", sa.String(10), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=True),
        sa.Column("constant", sa.Boolean(), nullable=True),
        sa.Column("data_type", sa.String(20), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("min_limit", sa.String(32), nullable=True),
        sa.Column("max_limit", sa.String(32), nullable=True),
        sa.Column("values_list", sa.String(1000), nullable=True),
        sa.Column("supports_monitoring", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "charger_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            name="uq_charger_variables_key",
        ),
    )
    # Plain ADD COLUMN, no batch mode (see ocpp_0005).
    op.add_column("chargers", sa.Column("phase_switching", sa.Boolean(), nullable=True))
    op.add_column("chargers", sa.Column("ocpp_version_pin", sa.String(16), nullable=True))
    op.add_column("chargers", sa.Column("last_boot_reason", sa.String(32), nullable=True))
    op.add_column(
        "chargers",
        sa.Column("security_profile", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column("sessions", sa.Column("charging_state", sa.String(20), nullable=True))
    op.add_column("sessions", sa.Column("remote_start_id", sa.Integer(), nullable=True))
    op.add_column("evses", sa.Column("external_limit_a", sa.Float(), nullable=True))
    op.add_column("evses", sa.Column("external_limit_source", sa.String(20), nullable=True))


def downgrade() -> None:
    op.drop_column("evses", "external_limit_source")
    op.drop_column("evses", "external_limit_a")
    op.drop_column("sessions", "remote_start_id")
    op.drop_column("sessions", "charging_state")
    op.drop_column("chargers", "security_profile")
    op.drop_column("chargers", "last_boot_reason")
    op.drop_column("chargers", "ocpp_version_pin")
    op.drop_column("chargers", "phase_switching")
    op.drop_table("charger_variables")
    op.drop_table("transaction_events")
