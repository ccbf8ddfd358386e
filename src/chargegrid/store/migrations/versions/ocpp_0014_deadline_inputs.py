"""Where a session's departure and energy wanted come from
(issue 16: API, id tag defaults, NotifyEVChargingNeeds, prediction).

Reserved in the chain so the issues' changes can land in any order without two heads;
it changes nothing until its issue fills it in.

Revision ID: ocpp_0014
Revises: ocpp_0013
"""

from __future__ import annotations

revision = "ocpp_0014"
down_revision = "ocpp_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
