"""Full-text search over mirrored sessions: an SQLite FTS5 table beside the index.

The tables are created by migration 0010 and have no ORM model: `session_search_docs`
holds, per session, what is searchable besides its body (name, project, tags, models)
and the file version it came from; `session_search` is a contentless FTS5 table over
those and the body (the words and their positions, no text), and `session_search_fields`
a contentless one over the short fields alone, without positions, for ranking (see
ranking.py). The body's text stays in the mirrored file, read back only for the hits
shown (search_reader). This module writes the tables with plain SQL on the Engine it is
given, and searches through that Engine's connection.

A contentless table can only forget a row given the text it indexed, which is no longer
at hand once a file has changed (and SQLite's contentless_delete needs 3.43). So a
re-indexed or removed session leaves its old FTS5 row behind: its DOCS_TABLE row goes,
every search joins on DOCS_TABLE, and the old row matches nothing. `compact` rebuilds
the table once such rows are many (see sync/searching.py).

The query syntax is in search_syntax. On PostgreSQL each function hands over to
pg_search (a tsvector per session); the tables they share the name and the columns of,
DOCS_TABLE's, are read here for both.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.errors import SearchUnavailableError, StorageError, driver_message
from syncd.index import pg_search
from syncd.index.filters import SessionFilter
from syncd.index.search_reader import (
    COLUMNS,
    DOCS_TABLE,
    FIELDS_TABLE,
    LIST_SEPARATOR,
    SEARCH_TABLE,
    Hit,
    ReadFile,
    find,
    is_current,
)
from syncd.index.search_syntax import fts_query

__all__ = [
    "COLUMNS",
    "DOCS_TABLE",
    "SEARCH_TABLE",
    "Hit",
    "SearchDoc",
    "fts_query",
    "search",
]

# The SQL function 0005's index read compressed bodies with; still registered on every
# connection so that a downgrade to 0005 (and its refresh) keeps working.
INFLATE_FUNCTION = "syncd_inflate"
# Left-behind FTS5 rows (see the module doc) tolerated before a rebuild: a quarter of the
# live ones, and never fewer than this many.
ORPHANS_FLOOR = 200
ORPHANS_SHARE = 0.25
# The backends with a search index (migrations 0010 and 0012).
SEARCHABLE = ("sqlite", "postgresql")


@dataclass(frozen=True)
class SearchDoc:
    """What is searchable about one session."""

    session_id: str
    name: str
    project: str
    tags: Sequence[str]
    models: Sequence[str]
    body: str
    file_sha256: str = ""  # the version of the mirrored file this text was read from


def index_session(
    engine: Engine,
    session_id: str,
    *,
    name: str,
    project: str,
    tags: Sequence[str],
    models: Sequence[str],
    body: str,
    file_sha256: str = "",
) -> None:
    """Make `session_id` searchable with this content, replacing what was indexed before."""
    index_many(engine, [SearchDoc(session_id, name, project, tags, models, body, file_sha256)])


def index_many(engine: Engine, docs: Sequence[SearchDoc]) -> None:
    """Index `docs` in one transaction, each replacing what its session had indexed."""
    if _on_postgresql(engine):
        pg_search.index_many(engine, docs)
        return
    with _transaction(engine) as connection:
        for doc in docs:
            _forget(connection, doc.session_id)
            _insert(connection, doc)


def indexed_versions(engine: Engine) -> dict[str, str]:
    """session id -> sha256 of the file version the index holds for it."""
    with _transaction(engine) as connection:
        rows = connection.execute(text(f"SELECT session_id, file_sha256 FROM {DOCS_TABLE}"))
        return {row[0]: row[1] for row in rows}


def current(engine: Engine) -> bool:
    """Whether the index holds every session's current file version and nothing else."""
    if _on_postgresql(engine):
        stale, gone = out_of_date(engine)
        return not stale and not gone
    with _transaction(engine) as connection:
        return is_current(_driver(connection))


def out_of_date(engine: Engine) -> tuple[list[str], list[str]]:
    """(sessions whose file the index holds no or another version of, indexed sessions gone).

    Two indexed queries, so checking a 10,000-session index that is current takes
    milliseconds.
    """
    with _transaction(engine) as connection:
        stale = connection.execute(
            text(
                f"SELECT sessions.id FROM sessions LEFT JOIN {DOCS_TABLE} AS docs "
                "ON docs.session_id = sessions.id "
                f"WHERE docs.file_sha256 {_distinct(engine)} COALESCE(sessions.file_sha256, '')"
            )
        )
        stale_ids = [row[0] for row in stale]
        gone = connection.execute(
            text(
                f"SELECT session_id FROM {DOCS_TABLE} WHERE session_id NOT IN "
                "(SELECT id FROM sessions)"
            )
        )
        return stale_ids, [row[0] for row in gone]


def document_count(engine: Engine) -> int:
    """How many sessions the search index holds (0 where search is unavailable)."""
    if engine.dialect.name not in SEARCHABLE:
        return 0
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {DOCS_TABLE}")).scalar() or 0)


def left_behind(engine: Engine) -> int:
    """How many FTS5 rows belong to no session any more (replaced or removed); none on
    PostgreSQL, whose rows are replaced in place."""
    if _on_postgresql(engine):
        return 0
    with _transaction(engine) as connection:
        rows = connection.execute(text(f"SELECT count(*) FROM {SEARCH_TABLE}_docsize")).scalar()
        live = connection.execute(text(f"SELECT count(*) FROM {DOCS_TABLE}")).scalar()
    return int(rows or 0) - int(live or 0)


def needs_compacting(engine: Engine) -> bool:
    """Whether enough rows were left behind that rebuilding the table is worth it."""
    return left_behind(engine) > max(ORPHANS_FLOOR, ORPHANS_SHARE * document_count(engine))


def remove_sessions(engine: Engine, session_ids: Iterable[str]) -> None:
    """Forget these sessions; removing one that was never indexed is not an error."""
    if _on_postgresql(engine):
        pg_search.remove_sessions(engine, session_ids)
        return
    with _transaction(engine) as connection:
        for session_id in session_ids:
            _forget(connection, session_id)


def reindex_all(engine: Engine, rows: Iterable[SearchDoc]) -> None:
    """Replace the whole search index with `rows`, in one transaction, and merge the
    table into one segment (the smallest and fastest form)."""
    if _on_postgresql(engine):
        pg_search.reindex_all(engine, rows)
        return
    with _transaction(engine) as connection:
        for table in (SEARCH_TABLE, FIELDS_TABLE):
            connection.execute(text(f"INSERT INTO {table}({table}) VALUES ('delete-all')"))
        connection.execute(text(f"DELETE FROM {DOCS_TABLE}"))
        for doc in rows:
            _insert(connection, doc)
        for table in (SEARCH_TABLE, FIELDS_TABLE):
            connection.execute(text(f"INSERT INTO {table}({table}) VALUES ('optimize')"))


def inflate(compressed: bytes | None) -> str | None:
    """0005's SQL function: zlib bytes -> text (see INFLATE_FUNCTION)."""
    if compressed is None:
        return None
    return zlib.decompress(compressed).decode("utf-8")


def search(
    engine: Engine,
    query: str,
    *,
    read_file: ReadFile,
    project: str | None = None,
    tag: str | None = None,
    model: str | None = None,
    since: str | None = None,
    limit: int = 20,
) -> list[Hit]:
    """The best `limit` sessions matching `query`, most relevant first; `read_file` reads a
    mirrored file (snippets, phrases). The filters are `syncd ls`'s (see SessionFilter);
    `project` also matches the project name the session was indexed under."""
    wanted = SessionFilter(project=project, tag=tag, model=model, since=since)
    if _on_postgresql(engine):
        return pg_search.search(engine, query, read_file, wanted=wanted, limit=limit)
    with _transaction(engine) as connection:
        return find(_driver(connection), query, read_file, wanted=wanted, limit=limit)


def include_name_except_search(name: str | None, type_: str, parent_names: Any) -> bool:
    """An Alembic `include_name` hook that hides the FTS5 table and its shadow tables.

    Autogenerate would otherwise propose dropping them, since they have no model.
    """
    if type_ != "table" or name is None:
        return True
    return name != SEARCH_TABLE and not name.startswith(f"{SEARCH_TABLE}_")


def _forget(connection: Connection, session_id: str) -> None:
    # Its FTS5 row stays behind, matching nothing (see the module doc).
    connection.execute(
        text(f"DELETE FROM {DOCS_TABLE} WHERE session_id = :session_id"),
        {"session_id": session_id},
    )


def _insert(connection: Connection, doc: SearchDoc) -> None:
    values = {
        "session_id": doc.session_id,
        "file_sha256": doc.file_sha256,
        "name": doc.name,
        "project": doc.project,
        "tags": LIST_SEPARATOR.join(doc.tags),
        "models": LIST_SEPARATOR.join(doc.models),
    }
    # AUTOINCREMENT: a new id every time, never one a left-behind FTS5 row still holds.
    row_id = connection.execute(
        text(
            f"INSERT INTO {DOCS_TABLE} (session_id, file_sha256, name, project, tags, models) "
            "VALUES (:session_id, :file_sha256, :name, :project, :tags, :models)"
        ),
        values,
    ).lastrowid
    placeholders = ", ".join(f":{column}" for column in COLUMNS)
    connection.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE} (rowid, {', '.join(COLUMNS)}) VALUES (:id, {placeholders})"
        ),
        values | {"id": row_id, "body": doc.body},
    )
    connection.execute(
        text(
            f"INSERT INTO {FIELDS_TABLE} (rowid, name, project, tags, models) "
            "VALUES (:id, :name, :project, :tags, :models)"
        ),
        values | {"id": row_id},
    )


def _on_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _distinct(engine: Engine) -> str:
    """SQL's null-safe "differs from" (SQLite's spelling is older than the standard's)."""
    return "IS DISTINCT FROM" if _on_postgresql(engine) else "IS NOT"


def _driver(connection: Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, connection.connection.driver_connection)


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin() that refuses engines without search and turns driver errors into
    ours (PostgreSQL's share the tables this module reads for both)."""
    if engine.dialect.name not in SEARCHABLE:
        raise SearchUnavailableError(engine.dialect.name)
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc
