"""hash_feedback (platforms' feedback on hash values) and an index of the change log by time

StopNCII's partner API (``/compat/stopncii/v1``): ``SubmitFeedback`` gives a platform's
word on a hash value, not on a match, so it has a table of its own, one row per (client,
signal type, value). ``FetchHashes`` starts at a time: ``ix_change_at`` (at, seq) finds
the first change at or after it without scanning the log.

Downgrade drops both; the feedback rows are lost.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hash_feedback",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("feedback", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.String(length=2000), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.PrimaryKeyConstraint("client_id", "signal_type", "value"),
    )
    op.create_index("ix_hash_feedback_value", "hash_feedback", ["signal_type", "value"])
    op.create_index("ix_change_at", "change_log", ["at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_change_at", table_name="change_log")
    op.drop_index("ix_hash_feedback_value", table_name="hash_feedback")
    op.drop_table("hash_feedback")
