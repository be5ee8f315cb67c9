"""Sessions keep their clientId, the id the recording tool gave them

Revision ID: 0009
Revises: 0008

Shown in the front matter as `client_id`, so a session can be found in the tool that
recorded it. Idempotent: a column already there (added by hand, or by a run of this
script cut short before its revision was recorded) is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "client_id" in _session_columns():
        return
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Text(), nullable=True))


def downgrade() -> None:
    if "client_id" not in _session_columns():
        return
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("client_id")


def _session_columns() -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sessions")}
