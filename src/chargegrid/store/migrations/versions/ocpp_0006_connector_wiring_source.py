"""Connectors: who set their wiring (``wiring_source``: default | charger | operator),
so that a charger's ``ConnectorPhaseRotation`` updates what nobody chose and never an
operator's choice (docs/ocpp.md "After each boot"). Existing rows count as the
operator's: we cannot tell a default from a choice that happens to look like one.

Revision ID: ocpp_0006
Revises: ocpp_0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0006"
down_revision = "ocpp_0005"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, no batch mode (see ocpp_0005): on SQLite, batch mode would
# copy the table, and dropping the old copy would cascade to sessions' references.
def upgrade() -> None:
    op.add_column(
        "connectors",
        sa.Column("wiring_source", sa.String(length=10), nullable=False, server_default="operator"),
    )


def downgrade() -> None:
    op.drop_column("connectors", "wiring_source")
