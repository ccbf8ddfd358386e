"""Networks as they are wired
(issue 16: line-to-line loads, transformer nodes, allowed current steps).

Reserved in the chain so the issues' changes can land in any order without two heads;
it changes nothing until its issue fills it in.

Revision ID: ocpp_0015
Revises: ocpp_0014
"""

from __future__ import annotations

revision = "ocpp_0015"
down_revision = "ocpp_0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
