"""The built-in CA's tables (migration ocpp_0010); ``store.schema.target_metadata()``
lists this ``metadata`` too.

``pki_materials``: one row per role (``root``: its certificate only, the root's key
stays with the operator; ``csms_ca``: the sub-CA that signs, with its key; ``server``:
the wss certificate and key, with the hostnames it names). ``version`` grows on every
change, so a running server notices a new server certificate without a restart.
``charger_certificates``: every certificate the CA signed for a charger.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

from chargegrid.store.models import BigId, Charger
from chargegrid.store.types import UtcDateTime

metadata = MetaData()

pki_materials = Table(
    "pki_materials",
    metadata,
    Column("role", String(16), primary_key=True),
    Column("cert_pem", Text, nullable=False),
    Column("key_pem", Text, nullable=True),
    Column("hostnames", JSON, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

charger_certificates = Table(
    "charger_certificates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "charger_id",
        Uuid,
        ForeignKey(Charger.__table__.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("certificate_type", String(40), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("cert_pem", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # When we last asked the charger for a new CSR (renewal before expiry).
    Column("renewal_requested_at", UtcDateTime, nullable=True),
    Index("ix_charger_certificates_charger", "charger_id", "id"),
)
