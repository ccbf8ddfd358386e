"""Stable integer aliases for sites, circuits, chargers and EVSEs
(issue 17: vendor APIs use numeric ids).

Reserved in the chain so the issues' changes can land in any order without two heads;
it changes nothing until its issue fills it in.

Revision ID: ocpp_0013
Revises: ocpp_0012
"""

from __future__ import annotations

revision = "ocpp_0013"
down_revision = "ocpp_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
