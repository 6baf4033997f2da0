"""bank_threshold: a bank's thresholds as rows keyed by signal type; type names up to 32

A bank kept its own match distances in two columns, ``pdq_threshold`` and
``phash_threshold``: a signal type added by a plug-in had nowhere to go. Each override is
now a row of ``bank_threshold`` (bank, signal type, threshold); the two columns' values
move there and the columns go. Signal type names (``signal.type``, ``match.signal_type``,
``change_log.signal_type``) may now be 32 characters long, as a plug-in's name may be
(SQLite does not enforce a VARCHAR length: only PostgreSQL is altered, which widens in
place without rewriting the tables).

Downgrade moves the pdq and phash rows back into the columns; rows of other types are
lost, and PostgreSQL refuses to narrow the type columns while a longer name is stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BUILTIN = ("pdq", "phash")  # the types that had a column of their own
_TYPE_COLUMNS = (("signal", "type"), ("match", "signal_type"), ("change_log", "signal_type"))


def _widen(length: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _TYPE_COLUMNS:
        op.alter_column(table, column, type_=sa.String(length=length))


def upgrade() -> None:
    op.create_table(
        "bank_threshold",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.PrimaryKeyConstraint("bank_id", "signal_type"),
    )
    for kind in _BUILTIN:
        op.execute(
            f"INSERT INTO bank_threshold (bank_id, signal_type, threshold) "
            f"SELECT id, '{kind}', {kind}_threshold FROM bank "
            f"WHERE {kind}_threshold IS NOT NULL"
        )
    with op.batch_alter_table("bank") as batch:
        batch.drop_column("phash_threshold")
        batch.drop_column("pdq_threshold")
    _widen(32)


def downgrade() -> None:
    _widen(8)
    with op.batch_alter_table("bank") as batch:
        batch.add_column(sa.Column("pdq_threshold", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("phash_threshold", sa.Integer(), nullable=True))
    for kind in _BUILTIN:
        op.execute(
            f"UPDATE bank SET {kind}_threshold = (SELECT threshold FROM bank_threshold "
            f"WHERE bank_threshold.bank_id = bank.id AND signal_type = '{kind}')"
        )
    op.drop_table("bank_threshold")
