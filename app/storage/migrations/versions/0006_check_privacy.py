"""client.exact_distances and bank.phash_block: what a check answer reveals and decides

A check answers a coarse band (``exact`` / ``near``) instead of the Hamming distance,
which let a ``check`` key rebuild a stored pHash bit by bit; an admin may give one
client exact distances back (``client.exact_distances``). A pHash-only match answers
``review`` rather than ``block`` unless its bank says otherwise (``bank.phash_block``).
Both default to false: existing clients lose exact distances, existing banks' pHash-only
matches answer review.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.add_column(
            sa.Column("exact_distances", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("bank") as batch:
        batch.add_column(
            sa.Column("phash_block", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("bank") as batch:
        batch.drop_column("phash_block")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("exact_distances")
