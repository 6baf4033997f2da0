"""match.attempt: one row per upload and case counts as a re-upload attempt

An upload that matches several hashes of one case (its PDQ, MD5 and SHA-256) logs one
match row per hash; exactly one of them has ``attempt`` true, so counts of re-upload
attempts (the dashboard's overview and chart) agree with the case's own counter. Rows
logged before this revision cannot be told apart and all count.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.add_column(
            sa.Column("attempt", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_index("ix_match_created_attempt", "match", ["created_at", "attempt"])


def downgrade() -> None:
    op.drop_index("ix_match_created_attempt", table_name="match")
    with op.batch_alter_table("match") as batch:
        batch.drop_column("attempt")
