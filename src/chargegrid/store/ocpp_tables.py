"""The OCPP server's own tables (migrations ocpp_0002 to ocpp_0004), apart from the
model the API maps; ``store.schema.target_metadata()`` lists this ``metadata`` too.

``meter_value_messages``: every MeterValues message (and StopTransaction's
``transactionData``) as ONE row holding its samples compactly, indexed by session and by
charger in arrival order; expanded into sample rows only when read
(``meter_messages.py``).
``charger_notices``: what a charger reports beyond the core model (DataTransfer,
firmware, diagnostics, log and security notices), kept as it came.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, Uuid

from chargegrid.store.models import BigId, Charger, ChargingSession
from chargegrid.store.types import UtcDateTime

metadata = MetaData()

meter_messages = Table(
    "meter_value_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # By column object: this metadata has no chargers or sessions table of its own.
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "session_id",
        Uuid,
        ForeignKey(ChargingSession.__table__.c.id, ondelete="CASCADE"),
        nullable=True,
    ),
    Column("evse_number", Integer, nullable=False),
    # JSON array of [timestamp, measurand, phase, unit, value, context, location].
    Column("samples", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_meter_value_messages_session", "session_id", "id"),
    Index("ix_meter_value_messages_charger", "charger_id", "id"),
)

charger_notices = Table(
    "charger_notices",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
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
