"""The OCPP server's own tables (migrations ocpp_0002 and ocpp_0003), apart from the
model the API maps; ``store.models.target_metadata()`` lists this ``metadata`` too.

``meter_value_inbox``: MeterValues committed as they arrive, one row a message, moved
into ``meter_values`` by the compactor (``meter_inbox.py``).
``charger_notices``: what a charger reports beyond the core model (DataTransfer,
firmware, diagnostics, log and security notices), kept as it came.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, Uuid

from chargegrid.store.models import BigId, Charger
from chargegrid.store.types import UtcDateTime

metadata = MetaData()

meter_inbox = Table(
    "meter_value_inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", Uuid, nullable=False),
    Column("session_id", Uuid, nullable=True),
    Column("evse_number", Integer, nullable=False),
    Column("samples", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

charger_notices = Table(
    "charger_notices",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # By column object: this metadata has no chargers table of its own.
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("action", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_charger_notices_charger_received", "charger_id", "received_at"),
)
