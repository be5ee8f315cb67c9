"""Search on PostgreSQL, and the mirror root an index belongs to

Revision ID: 0012
Revises: 0011

`index_owner` (every backend) holds one row: the id and path of the mirror root that
first used the index, so a second root pointed at the same database is refused.

On PostgreSQL only, `session_search_docs` holds per session its short fields and
`fields`, a tsvector of them (name weighted A, project B, tags and models C), and
`session_search_parts` its body as tsvectors of a few thousand words each (a tsvector
keeps word positions only up to 16,383: one per body would lose the phrases of long
sessions), both under GIN indexes; `syncd search` queries them with
to_tsquery('simple', ...). SQLite keeps 0010's FTS5 tables: nothing changes there but the
new owner table.

Idempotent: a table already there (a run of this script cut short before its revision
was recorded) is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "index_owner" not in tables:
        _create_owner()
    if op.get_bind().dialect.name != "postgresql":
        return
    if "session_search_docs" not in tables:
        _create_docs()
    if "session_search_parts" not in tables:
        _create_parts()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS session_search_parts")
        op.execute("DROP TABLE IF EXISTS session_search_docs")
    op.execute("DROP TABLE IF EXISTS index_owner")


def _create_owner() -> None:
    op.create_table(
        "index_owner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.String(length=64), nullable=False),
        sa.Column("root_path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_owner")),
    )


def _create_docs() -> None:
    op.create_table(
        "session_search_docs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("session_id", sa.String(length=255), nullable=False, unique=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("fields", postgresql.TSVECTOR(), nullable=False),
    )
    op.create_index(
        "ix_session_search_docs_fields", "session_search_docs", ["fields"], postgresql_using="gin"
    )


def _create_parts() -> None:
    op.create_table(
        "session_search_parts",
        sa.Column(
            "doc_id",
            sa.BigInteger(),
            sa.ForeignKey("session_search_docs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("words", postgresql.TSVECTOR(), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "part"),
    )
    op.create_index(
        "ix_session_search_parts_words", "session_search_parts", ["words"], postgresql_using="gin"
    )
