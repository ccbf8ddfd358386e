"""Several nodes on PostgreSQL and NATS (issue 15: command ids, connection epochs).

Reserved in the chain so the issues' changes can land in any order without two heads;
it changes nothing until its issue fills it in.

Revision ID: ocpp_0016
Revises: ocpp_0015
"""

from __future__ import annotations

revision = "ocpp_0016"
down_revision = "ocpp_0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
