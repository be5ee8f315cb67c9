"""Compact search index: FTS5 over compressed copies of the indexed text (SQLite only)

Revision ID: 0005
Revises: 0004

0004's FTS5 table kept a plain copy of every body, so the index outgrew the mirror. Now
`session_search_docs` holds each session's indexed text, the body zlib-compressed, and
the FTS5 table reads it through the `session_search_text` view (`syncd_inflate` is an SQL
function syncd registers on every connection); only the inverted index is FTS5's own.
The search index is derived data: the upgrade drops it and the next search or sync
rebuilds it from the mirror.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CREATE_DOCS = """
CREATE TABLE session_search_docs (
    id INTEGER PRIMARY KEY,
    session_id VARCHAR(255) NOT NULL UNIQUE,
    file_sha256 VARCHAR(64) NOT NULL,
    name TEXT NOT NULL,
    project TEXT NOT NULL,
    tags TEXT NOT NULL,
    models TEXT NOT NULL,
    body BLOB NOT NULL
)
"""
CREATE_VIEW = """
CREATE VIEW session_search_text AS
SELECT id, name, project, tags, models, syncd_inflate(body) AS body FROM session_search_docs
"""
# remove_diacritics 2: "migracao" finds "migração", including letters with several marks.
CREATE_FTS = """
CREATE VIRTUAL TABLE session_search USING fts5(
    name,
    project,
    tags,
    models,
    body,
    content = 'session_search_text',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
)
"""
CREATE_0004_FTS = """
CREATE VIRTUAL TABLE session_search USING fts5(
    session_id UNINDEXED, name, project, tags, models, body,
    tokenize = 'unicode61 remove_diacritics 2'
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite commits each DDL statement: drop whatever an interrupted run left, then create.
    for statement in (
        "DROP TABLE IF EXISTS session_search",
        "DROP VIEW IF EXISTS session_search_text",
        "DROP TABLE IF EXISTS session_search_docs",
        "DROP TABLE IF EXISTS session_search_state",
    ):
        op.execute(statement)
    op.execute(CREATE_DOCS)
    op.execute(CREATE_VIEW)
    op.execute(CREATE_FTS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS session_search")
    op.execute("DROP VIEW IF EXISTS session_search_text")
    op.execute("DROP TABLE IF EXISTS session_search_docs")
    op.execute(CREATE_0004_FTS)
    op.execute(
        "CREATE TABLE session_search_state "
        "(session_id VARCHAR(255) PRIMARY KEY, file_sha256 VARCHAR(64) NOT NULL)"
    )
