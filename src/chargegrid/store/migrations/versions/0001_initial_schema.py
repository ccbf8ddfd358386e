"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:30:16.449488
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("site_ids", sa.JSON(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("network_type", sa.String(length=2), nullable=False),
        sa.Column("nominal_voltage", sa.Float(), nullable=False),
        sa.Column("max_current", sa.Float(), nullable=False),
        sa.Column("offline_limit_to_min_current", sa.Boolean(), nullable=False),
        sa.Column("three_to_one_phase_switch_current", sa.Float(), nullable=True),
        sa.Column("electricity_meter_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_current_l1", sa.Float(), nullable=True),
        sa.Column("available_current_l2", sa.Float(), nullable=True),
        sa.Column("available_current_l3", sa.Float(), nullable=True),
        sa.Column("available_current_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "transaction_ids",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_ids")),
    )
    op.create_table(
        "circuits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("max_current", sa.Float(), nullable=False),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("phase_rotation", sa.String(length=3), nullable=False),
        sa.Column("electricity_meter_id", sa.Uuid(), nullable=True),
        sa.Column("offline_reserved_current", sa.Float(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_current_l1", sa.Float(), nullable=True),
        sa.Column("available_current_l2", sa.Float(), nullable=True),
        sa.Column("available_current_l3", sa.Float(), nullable=True),
        sa.Column("available_current_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["circuits.id"],
            name=op.f("fk_circuits_parent_id_circuits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_circuits_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circuits")),
    )
    with op.batch_alter_table("circuits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_circuits_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_circuits_site_id"), ["site_id"], unique=False)

    op.create_table(
        "electricity_meters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("max_age_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_electricity_meters_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_electricity_meters")),
    )
    with op.batch_alter_table("electricity_meters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_electricity_meters_site_id"), ["site_id"], unique=False
        )

    op.create_table(
        "id_tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("id_tag", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id_tag", sa.String(length=36), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_id_tags_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_tags")),
        sa.UniqueConstraint("id_tag", name=op.f("uq_id_tags_id_tag")),
    )
    with op.batch_alter_table("id_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_id_tags_site_id"), ["site_id"], unique=False)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_webhooks_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "chargers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("circuit_id", sa.Uuid(), nullable=True),
        sa.Column("ocpp_id", sa.String(length=48), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("registration_status", sa.String(length=16), nullable=False),
        sa.Column("vendor", sa.String(length=50), nullable=True),
        sa.Column("model", sa.String(length=50), nullable=True),
        sa.Column("serial_number", sa.String(length=50), nullable=True),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("ocpp_version", sa.String(length=16), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ocpp_status", sa.String(length=20), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("error_info", sa.String(length=500), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=True),
        sa.Column("reported_configuration", sa.JSON(), nullable=True),
        sa.Column("max_stack_level", sa.Integer(), nullable=True),
        sa.Column("charging_rate_units", sa.JSON(), nullable=True),
        sa.Column("connector_phase_rotation", sa.String(length=255), nullable=True),
        sa.Column("max_charge_current", sa.Float(), nullable=True),
        sa.Column("min_charge_current", sa.Float(), nullable=False),
        sa.Column("max_charge_phases", sa.Integer(), nullable=False),
        sa.Column("offline_charge_current", sa.Float(), nullable=False),
        sa.Column("offline_charge_phase", sa.Integer(), nullable=False),
        sa.Column("meter_value_interval", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("config_sync", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["circuit_id"],
            ["circuits.id"],
            name=op.f("fk_chargers_circuit_id_circuits"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_chargers_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chargers")),
        sa.UniqueConstraint("ocpp_id", name=op.f("uq_chargers_ocpp_id")),
    )
    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chargers_circuit_id"), ["circuit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chargers_site_id"), ["site_id"], unique=False)

    op.create_table(
        "meter_readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("meter_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_l1", sa.Float(), nullable=True),
        sa.Column("current_l2", sa.Float(), nullable=True),
        sa.Column("current_l3", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["electricity_meters.id"],
            name=op.f("fk_meter_readings_meter_id_electricity_meters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_readings")),
    )
    with op.batch_alter_table("meter_readings", schema=None) as batch_op:
        batch_op.create_index("ix_meter_readings_meter_ts", ["meter_id", "timestamp"], unique=False)

    op.create_table(
        "evses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.String(length=48), nullable=True),
        sa.Column("physical_reference", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("ocpp_status", sa.String(length=20), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("error_info", sa.String(length=500), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.id"],
            name=op.f("fk_evses_charger_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evses")),
        sa.UniqueConstraint("charger_id", "evse_number", name=op.f("uq_evses_charger_id")),
    )
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evses_charger_id"), ["charger_id"], unique=False)

    op.create_table(
        "connectors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("evse_id", sa.Uuid(), nullable=False),
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("standard", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("power_type", sa.String(length=20), nullable=False),
        sa.Column("max_voltage", sa.Float(), nullable=False),
        sa.Column("max_amperage", sa.Integer(), nullable=False),
        sa.Column("max_electric_power", sa.Float(), nullable=True),
        sa.Column("phase_rotation", sa.String(length=3), nullable=False),
        sa.Column("ocpp_status", sa.String(length=20), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("error_info", sa.String(length=500), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.id"],
            name=op.f("fk_connectors_charger_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evse_id"], ["evses.id"], name=op.f("fk_connectors_evse_id_evses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint("charger_id", "connector_id", name=op.f("uq_connectors_charger_id")),
    )
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connectors_evse_id"), ["evse_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("evse_id", sa.Uuid(), nullable=True),
        sa.Column("connector_pk", sa.Uuid(), nullable=True),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("remote_transaction_id", sa.String(length=36), nullable=True),
        sa.Column("id_tag", sa.String(length=36), nullable=True),
        sa.Column("meter_start", sa.Float(), nullable=True),
        sa.Column("meter_stop", sa.Float(), nullable=True),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("phases_used", sa.Integer(), nullable=True),
        sa.Column("ev_max_current", sa.Float(), nullable=True),
        sa.Column("departure_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("energy_wanted_wh", sa.Float(), nullable=True),
        sa.Column("soc", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.id"],
            name=op.f("fk_sessions_charger_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connector_pk"],
            ["connectors.id"],
            name=op.f("fk_sessions_connector_pk_connectors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["evse_id"], ["evses.id"], name=op.f("fk_sessions_evse_id_evses"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint(
            "charger_id", "remote_transaction_id", name=op.f("uq_sessions_charger_id")
        ),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_sessions_transaction_id")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sessions_charger_active", ["charger_id", "stopped_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sessions_charger_id"), ["charger_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sessions_started_at"), ["started_at"], unique=False)

    op.create_table(
        "meter_values",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("charger_id", sa.Uuid(), nullable=False),
        sa.Column("evse_number", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measurand", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("context", sa.String(length=32), nullable=True),
        sa.Column("location", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.id"],
            name=op.f("fk_meter_values_charger_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_meter_values_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_values")),
    )
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_values_charger_ts", ["charger_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_meter_values_session_ts", ["session_id", "timestamp"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_values_session_ts")
        batch_op.drop_index("ix_meter_values_charger_ts")

    op.drop_table("meter_values")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_started_at"))
        batch_op.drop_index(batch_op.f("ix_sessions_charger_id"))
        batch_op.drop_index("ix_sessions_charger_active")

    op.drop_table("sessions")
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connectors_evse_id"))

    op.drop_table("connectors")
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evses_charger_id"))

    op.drop_table("evses")
    with op.batch_alter_table("meter_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_readings_meter_ts")

    op.drop_table("meter_readings")
    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chargers_site_id"))
        batch_op.drop_index(batch_op.f("ix_chargers_circuit_id"))

    op.drop_table("chargers")
    op.drop_table("webhooks")
    with op.batch_alter_table("id_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_id_tags_site_id"))

    op.drop_table("id_tags")
    with op.batch_alter_table("electricity_meters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_electricity_meters_site_id"))

    op.drop_table("electricity_meters")
    with op.batch_alter_table("circuits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_circuits_site_id"))
        batch_op.drop_index(batch_op.f("ix_circuits_parent_id"))

    op.drop_table("circuits")
    op.drop_table("transaction_ids")
    op.drop_table("sites")
    op.drop_table("api_tokens")
