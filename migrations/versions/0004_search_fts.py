"""Full-text search: the session_search FTS5 table (SQLite only)

Revision ID: 0004
Revises: 0003

The table is virtual, so it has no model in syncd.index.models: syncd.index.search reads
and writes it with plain SQL. On other databases this revision does nothing and search
reports that it needs SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# remove_diacritics 2: "migracao" finds "migração", including letters with several marks.
CREATE_SEARCH_TABLE = """
CREATE VIRTUAL TABLE session_search USING fts5(
    session_id UNINDEXED,
    name,
    project,
    tags,
    models,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(CREATE_SEARCH_TABLE)
    # Which version of each file the search index holds, so it is refreshed incrementally.
    op.execute(
        "CREATE TABLE session_search_state "
        "(session_id VARCHAR(255) PRIMARY KEY, file_sha256 VARCHAR(64) NOT NULL)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS session_search_state")
    op.execute("DROP TABLE IF EXISTS session_search")
