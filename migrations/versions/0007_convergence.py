"""git journal, archive health, and how each run ended

Revision ID: 0007
Revises: 0006

- git_journal: the paths a cycle is about to change, recorded before it changes them and
  removed only once a commit holds them, so a killed or failed cycle's writes land in
  the next commit.
- pending_writes: the index row a session's new file stands for, recorded once the file's
  bytes are on disk and before it is renamed into place; a restart finishes the step.
- archive_state: the last commit and push attempts, so `status` can say they fail.
- sync_runs.outcome: succeeded | failed | deferred | interrupted (NULL: never finished);
  sync_runs.listed: sessions the cloud listed, when every listing was read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "git_journal",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_git_journal")),
    )
    op.create_table(
        "pending_writes",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_pending_writes")),
    )
    op.create_table(
        "archive_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_commit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_commit_sha", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("push_error", sa.Text(), nullable=True),
        sa.Column("push_failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_state")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("listed", sa.Integer(), nullable=True))
    # Runs recorded before outcomes existed: derive what their counters said.
    op.execute(
        "UPDATE sync_runs SET outcome = CASE "
        "WHEN failed > 0 THEN 'failed' WHEN deferred > 0 THEN 'deferred' "
        "ELSE 'succeeded' END WHERE ended_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("listed")
        batch_op.drop_column("outcome")
    op.drop_table("archive_state")
    op.drop_table("pending_writes")
    op.drop_table("git_journal")
