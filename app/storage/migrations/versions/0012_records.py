"""check_day: each client's checks per UTC day, for the platform records

Checks without a match write nothing (they are answered from memory), so until now the
only count of them was a process's Prometheus counter. The per-platform record (issue
21) needs them per client and day: each process counts in memory and adds its counts
to this table every few seconds. The feedback figures need no new table: they are read
from ``match``.

Downgrade drops the table; the counts are lost.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_day",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("checks", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.PrimaryKeyConstraint("client_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("check_day")
