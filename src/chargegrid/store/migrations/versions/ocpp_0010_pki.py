"""The built-in CA (issue 13): its materials (root certificate, CSMS sub-CA, server
certificate) and the certificates it signed for chargers (``store/pki_tables.py``).

Revision ID: ocpp_0010
Revises: ocpp_0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0010"
down_revision = "ocpp_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_materials",
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_pem", sa.Text(), nullable=True),
        sa.Column("hostnames", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "charger_certificates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "charger_id",
            sa.Uuid(),
            sa.ForeignKey("chargers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("certificate_type", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewal_requested_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_charger_certificates_charger", "charger_certificates", ["charger_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_charger_certificates_charger", table_name="charger_certificates")
    op.drop_table("charger_certificates")
    op.drop_table("pki_materials")
