"""The OCPP server's own tables (migrations ocpp_0002 to ocpp_0004), apart from the
model the API maps; ``store.schema.target_metadata()`` lists this ``metadata`` too.

``meter_value_messages``: every MeterValues message (and StopTransaction's
``transactionData``) as ONE row holding its samples compactly, indexed by session and by
charger in arrival order; expanded into sample rows only when read
(``meter_messages.py``). A 1.6 MeterValues message within a transaction has a
``digest`` (ocpp_0008: its connector, transactionId and samples), unique per charger:
a repeat (re-sent after a restart, or after its answer was lost) is stored once.
``charger_notices``: what a charger reports beyond the core model (DataTransfer,
firmware, diagnostics, log and security notices), kept as it came.
``security_events`` (ocpp_0009): the security event log, the charger's and the CSMS's.
``transaction_events`` (ocpp_0007): every 2.0.1 TransactionEvent's identity (charger,
transaction, seqNo), so a replay after a reconnect is recognised and changes nothing.
``charger_variables`` (ocpp_0007): the 2.0.1 device model as the charger reported it
(NotifyReport, GetVariables, SetVariables), one row per component/variable/attribute.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

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
    # 64 bits of a hash of the message (``meter_messages.message_digest``); NULL
    # outside a 1.6 transaction (2.0.1 events are recognised by their seqNo).
    Column("digest", BigInteger, nullable=True),
    Index("ix_meter_value_messages_session", "session_id", "id"),
    Index("ix_meter_value_messages_charger", "charger_id", "id"),
    Index(
        "uq_meter_value_messages_digest",
        "charger_id",
        "digest",
        unique=True,
        sqlite_where=text("digest IS NOT NULL"),
        postgresql_where=text("digest IS NOT NULL"),
    ),
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

# ocpp_0009: the charger's SecurityEventNotifications (source "charger") and the
# CSMS's own (source "csms": refused handshakes, rotations, profile changes).
security_events = Table(
    "security_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source", String(8), nullable=False),
    Column("type", String(50), nullable=False),
    Column("tech_info", String(255), nullable=True),
    Column("severity", String(8), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_security_events_charger", "charger_id", "id"),
)

transaction_events = Table(
    "transaction_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("transaction_id", String(36), nullable=False),
    Column("seq_no", Integer, nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("trigger_reason", String(32), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("offline", Boolean, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("charger_id", "transaction_id", "seq_no", name="uq_transaction_events_seq"),
)

charger_variables = Table(
    "charger_variables",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    # The key; '' and 0 stand for "none" so the unique constraint holds on every database.
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=False, server_default=""),
    Column("evse_id", Integer, nullable=False, server_default="0"),
    Column("connector_id", Integer, nullable=False, server_default="0"),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=False, server_default=""),
    Column("attribute_type", String(8), nullable=False, server_default="Actual"),
    # What the charger said.
    Column("value", String(2500), nullable=True),
    Column("mutability", String(10), nullable=True),
    Column("persistent", Boolean, nullable=True),
    Column("constant", Boolean, nullable=True),
    Column("data_type", String(20), nullable=True),
    Column("unit", String(16), nullable=True),
    Column("min_limit", String(32), nullable=True),
    Column("max_limit", String(32), nullable=True),
    Column("values_list", String(1000), nullable=True),
    Column("supports_monitoring", Boolean, nullable=True),
    # How we last heard of it: report | get | set, and the set's result if one failed.
    Column("source", String(8), nullable=False),
    Column("status", String(32), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint(
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
