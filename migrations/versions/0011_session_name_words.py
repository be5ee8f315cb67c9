"""Sessions keep the words their file is named by when their name says nothing

Revision ID: 0011
Revises: 0010

A session named only by a timestamp (or by nothing) has its file named from the first
words of its first user message; the index keeps their slug (as the file name shows it)
so every later cycle plans the same path without reading the body. NULL for a file named
by its session's name, and for rows older than this revision: their files are named from
the body once, on the next sync. Idempotent: a column already there is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "name_words" in _session_columns():
        return
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("name_words", sa.Text(), nullable=True))


def downgrade() -> None:
    if "name_words" not in _session_columns():
        return
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("name_words")


def _session_columns() -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sessions")}
