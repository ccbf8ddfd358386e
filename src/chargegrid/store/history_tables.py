"""The load history's tables (migration ocpp_0011); ``store.schema.target_metadata()``
lists this ``metadata`` too.

``history_series``: one row per site, circuit or session that has a history.
``history_samples``: one row per series, resolution (seconds) and bucket start (Unix
seconds), its numbers packed by ``store.history_codec``; the primary key is the index
range reads walk, and on SQLite the table is stored in it (no rowid).
``history_marks``: per downsampled resolution, the bucket start before which every
bucket is written.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)

from chargegrid.store.models import BigId
from chargegrid.store.types import UtcDateTime

metadata = MetaData()

# Unix seconds: BIGINT on PostgreSQL, INTEGER (a varint) on SQLite.
UnixSeconds = BigInteger().with_variant(Integer(), "sqlite")

history_series = Table(
    "history_series",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # site | circuit | session
    Column("ref_id", Uuid, nullable=False),
    Column("site_id", Uuid, nullable=False),  # what authorises a read
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("kind", "ref_id", name="uq_history_series_ref"),
    Index("ix_history_series_site", "site_id"),
)

history_samples = Table(
    "history_samples",
    metadata,
    Column("series_id", BigId, nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("t", UnixSeconds, nullable=False),
    Column("n", Integer, nullable=False),  # seconds the bucket covers (1 at full resolution)
    Column("v", LargeBinary, nullable=False),
    PrimaryKeyConstraint("series_id", "resolution", "t", name="pk_history_samples"),
    sqlite_with_rowid=False,
)

history_marks = Table(
    "history_marks",
    metadata,
    Column("resolution", Integer, primary_key=True, autoincrement=False),
    Column("done_until", UnixSeconds, nullable=False),
)
