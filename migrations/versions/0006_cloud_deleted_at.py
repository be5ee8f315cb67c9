"""Sessions kept after their deletion in the cloud (deletion.mode = keep) say so

Revision ID: 0006
Revises: 0005

With `keep`, a session deleted in the cloud stays in the mirror, the index and search,
marked with when the deletion was confirmed; marked sessions are never deletion
candidates again (no request per kept session per reconciliation).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("cloud_deleted_at", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("cloud_deleted_at")
