"""hot-hash quarantine: signal_quarantine, and matches indexed by signal and time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signal_quarantine",
        sa.Column("signal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("clients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["signal_id"], ["signal.id"]),
        sa.PrimaryKeyConstraint("signal_id"),
    )
    with op.batch_alter_table("signal_quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_quarantine_state"), ["state"], unique=False)
    with op.batch_alter_table("match", schema=None) as batch_op:
        batch_op.create_index("ix_match_signal_created", ["signal_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match", schema=None) as batch_op:
        batch_op.drop_index("ix_match_signal_created")
    with op.batch_alter_table("signal_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signal_quarantine_state"))
    op.drop_table("signal_quarantine")
