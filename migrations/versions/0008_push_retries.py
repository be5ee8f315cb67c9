"""PullStory retries, the quota pause's schedule, and why a path was journaled

Revision ID: 0008
Revises: 0007

- stories.built_hash: the hash of the brief as built from the session, shared by the
  smaller briefs a failed story is retried with (so `syncd push` finds them again);
  stories.failures: how many generations of that brief have failed.
- push_state.paused_at / resets_at / minutes_needed: when a 402 paused pushing, when the
  usage period ends, and the minutes the refused brief needed: the usage is looked at
  again with backoff from the pause, and at the period's end.
- git_journal.reason: "story-url" for a path journaled to receive its story URL, so the
  commit can say that it holds story URLs.

Idempotent: a column already there is left alone, and the backfill only fills blanks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def new_columns() -> dict[str, list[sa.Column[object]]]:
    """Fresh Column objects each time: a Column belongs to the one table it was added to."""
    return {
        "stories": [
            sa.Column("built_hash", sa.String(length=64), nullable=True),
            sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        ],
        "push_state": [
            sa.Column("paused_at", sa.Float(), nullable=True),
            sa.Column("resets_at", sa.Float(), nullable=True),
            sa.Column("minutes_needed", sa.Float(), nullable=True),
        ],
        "git_journal": [sa.Column("reason", sa.String(length=20), nullable=True)],
    }


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in new_columns().items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [column for column in columns if column.name not in present]
        if missing:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for column in missing:
                    batch_op.add_column(column)
    indexes = {index["name"] for index in inspector.get_indexes("stories")}
    if "ix_stories_built_hash" not in indexes:
        with op.batch_alter_table("stories", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_stories_built_hash"), ["built_hash"])
    # Every story so far was posted as built.
    op.execute("UPDATE stories SET built_hash = brief_hash WHERE built_hash IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_built_hash"))
    for table, columns in new_columns().items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(columns):
                batch_op.drop_column(column.name)
