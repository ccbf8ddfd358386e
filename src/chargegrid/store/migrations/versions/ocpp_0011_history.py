"""Load history (issue 14): what the control loop decided and what meters and chargers
reported, per site, circuit and session, over time (``store/history_tables.py``).

``history_series``: one row per thing that has a history (a site, a circuit, a
session), so the samples carry a small integer instead of a UUID and a kind.
``history_samples``: one row per series, resolution and time bucket; the numbers are
packed into ``v`` (``store/history_codec.py``). The primary key is the range-read
index; on SQLite the table has no rowid, so that key is the table itself.
``history_marks``: how far each downsampling step has got.

Revision ID: ocpp_0011
Revises: ocpp_0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0011"
down_revision = "ocpp_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_series",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ref_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "ref_id", name="uq_history_series_ref"),
    )
    op.create_index("ix_history_series_site", "history_series", ["site_id"])
    op.create_table(
        "history_samples",
        sa.Column(
            "series_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        # Bucket width in seconds (1 = full resolution, then the downsampled steps).
        sa.Column("resolution", sa.Integer(), nullable=False),
        # Bucket start, Unix seconds: an integer is 4-6 bytes where a timestamp is 26.
        sa.Column("t", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        # How many samples the bucket summarises (1 at full resolution).
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("v", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "resolution", "t", name="pk_history_samples"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "history_marks",
        sa.Column("resolution", sa.Integer(), primary_key=True, autoincrement=False),
        # Every bucket of this resolution that starts before ``done_until`` is written.
        sa.Column(
            "done_until", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("history_marks")
    op.drop_table("history_samples")
    op.drop_index("ix_history_series_site", table_name="history_series")
    op.drop_table("history_series")
