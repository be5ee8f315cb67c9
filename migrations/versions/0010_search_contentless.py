"""Smaller search index: contentless FTS5 tables, the text stays in the mirrored files

Revision ID: 0010
Revises: 0009

0005 kept a zlib copy of every body beside its FTS5 index: 48-82% of the mirror's bytes
on real text. Now `session_search` is contentless (the index with word positions, so
phrases are FTS5's own, and no text): about a quarter of the mirror. Bodies are read from
the mirrored files for the snippets of the hits shown. `session_search_fields` says which
of the short fields (name, project, tags, models) hold a word (`detail=column`, a few
kilobytes), for ranking without reading positions. `session_search_docs` keeps the names,
projects, tags and models, not the bodies; its ids are AUTOINCREMENT so a row left
behind in the FTS5 tables by a re-index is never matched to another session.

The upgrade converts an existing index in place (the bodies inflated with syncd's
`syncd_inflate`, registered on the index's connections), so nothing is read from the
mirror again; where that function is missing (Alembic run on its own) the tables start
empty and the next search or sync fills them from the mirror. The downgrade restores
0005's empty tables, which 0005's refresh fills from the mirror in the same way.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.exc import OperationalError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CREATE_DOCS = """
CREATE TABLE {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id VARCHAR(255) NOT NULL UNIQUE,
    file_sha256 VARCHAR(64) NOT NULL,
    name TEXT NOT NULL,
    project TEXT NOT NULL,
    tags TEXT NOT NULL,
    models TEXT NOT NULL
)
"""
# remove_diacritics 2: "migracao" finds "migração", including letters with several marks.
CREATE_FTS = """
CREATE VIRTUAL TABLE {table} USING fts5(
    name,
    project,
    tags,
    models,
    body,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
)
"""
CREATE_FIELDS = """
CREATE VIRTUAL TABLE {table} USING fts5(
    name,
    project,
    tags,
    models,
    content = '',
    detail = column,
    tokenize = 'unicode61 remove_diacritics 2'
)
"""
# 0005's tables, for the downgrade.
CREATE_0005_DOCS = """
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
CREATE_0005_VIEW = """
CREATE VIEW session_search_text AS
SELECT id, name, project, tags, models, syncd_inflate(body) AS body FROM session_search_docs
"""
CREATE_0005_FTS = """
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
_NEW_DOCS, _NEW_FTS = "session_search_docs_0010", "session_search_0010"
_FIELDS = "session_search_fields"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite commits each DDL statement: start from whatever an interrupted run left.
    for table in (_NEW_FTS, _NEW_DOCS, _FIELDS):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute(CREATE_DOCS.format(table=_NEW_DOCS))
    op.execute(CREATE_FTS.format(table=_NEW_FTS))
    op.execute(CREATE_FIELDS.format(table=_FIELDS))
    if _has_0005_bodies():
        _copy_0005_index()
    op.execute("DROP TABLE IF EXISTS session_search")
    op.execute("DROP VIEW IF EXISTS session_search_text")
    op.execute("DROP TABLE IF EXISTS session_search_docs")
    op.execute(f"ALTER TABLE {_NEW_DOCS} RENAME TO session_search_docs")
    op.execute(f"ALTER TABLE {_NEW_FTS} RENAME TO session_search")
    for table in ("session_search", _FIELDS):
        op.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS session_search")
    op.execute(f"DROP TABLE IF EXISTS {_FIELDS}")
    op.execute("DROP TABLE IF EXISTS session_search_docs")
    op.execute("DROP VIEW IF EXISTS session_search_text")
    op.execute(CREATE_0005_DOCS)
    op.execute(CREATE_0005_VIEW)
    op.execute(CREATE_0005_FTS)


def _has_0005_bodies() -> bool:
    columns = op.get_bind().exec_driver_sql("PRAGMA table_info(session_search_docs)")
    return "body" in {row[1] for row in columns}


def _copy_0005_index() -> None:
    bind = op.get_bind()
    try:
        bind.exec_driver_sql(
            f"INSERT INTO {_NEW_FTS} (rowid, name, project, tags, models, body) "
            "SELECT id, name, project, tags, models, syncd_inflate(body) FROM session_search_docs"
        )
    except OperationalError:
        return  # no syncd_inflate on this connection: start empty, the mirror refills it
    bind.exec_driver_sql(
        f"INSERT INTO {_FIELDS} (rowid, name, project, tags, models) "
        "SELECT id, name, project, tags, models FROM session_search_docs"
    )
    bind.exec_driver_sql(
        f"INSERT INTO {_NEW_DOCS} (id, session_id, file_sha256, name, project, tags, models) "
        "SELECT id, session_id, file_sha256, name, project, tags, models FROM session_search_docs"
    )
