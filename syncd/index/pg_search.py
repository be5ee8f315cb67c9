"""Full-text search on PostgreSQL: a tsvector per session under a GIN index.

Migration 0011 creates `session_search_docs` on PostgreSQL: per session its short fields,
the file version it came from and `document`, a tsvector of the name (weight A), project
(B), tags and models (C) and body (D), built with the 'simple' configuration: no stemming
and no stop words, so code words (`useEffect`, `README`, `the`) are found as written.
The text is normalised first (pg_query.normalized), so words split as SQLite's FTS5
splits them and accents do not matter. Queries are pg_query's translation of the same
syntax; ranking is ts_rank with weights in the ratios ranking.py gives the fields.
Snippets come from the mirrored files, as on SQLite (search_reader.hits_of).

PostgreSQL limits what one tsvector holds: 1 MB of lexemes and positions, positions up
to 16,383. A body whose tsvector would be larger (hundreds of thousands of distinct
words: logs, encoded data) is cut to its first 1 MB, then 256 KB, of text until it fits;
words past the 16,383rd share the last position, so a phrase that far into a session may
not be found.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from syncd.errors import SearchQueryError, StorageError, driver_message
from syncd.index import pg_query, search_syntax, snippets
from syncd.index.filters import SessionFilter
from syncd.index.search_reader import (
    DOCS_TABLE,
    LIST_SEPARATOR,
    Candidate,
    Hit,
    ReadFile,
    check_iso_date,
    hits_of,
    kept,
)

if TYPE_CHECKING:
    from syncd.index.search import SearchDoc

CONFIG = "simple"
# ts_rank's weights, in the order {D, C, B, A}: body, tags and models, project, name;
# the ratios of ranking.py's FIELD_WEIGHTS and BODY_WEIGHT.
RANK_WEIGHTS = "{0.1, 0.3, 0.4, 1.0}"
_BATCH = 32  # ranked sessions fetched, and checked for body words, at a time
# SQLSTATE 54000 (program_limit_exceeded): the tsvector is larger than PostgreSQL allows.
_TOO_LARGE = "54000"
# Characters of a body indexed, tried in order until its tsvector fits (None: all of it).
BODY_CUTS = (None, 1024 * 1024, 256 * 1024, 0)

_DOCUMENT = f"""
setweight(to_tsvector('{CONFIG}', :name), 'A')
|| setweight(to_tsvector('{CONFIG}', :project), 'B')
|| setweight(to_tsvector('{CONFIG}', :fields), 'C')
|| setweight(to_tsvector('{CONFIG}', :body), 'D')
"""
_UPSERT = f"""
INSERT INTO {DOCS_TABLE} (session_id, file_sha256, name, project, tags, models, document)
VALUES (:session_id, :file_sha256, :raw_name, :raw_project, :tags, :models, {_DOCUMENT})
ON CONFLICT (session_id) DO UPDATE SET
    file_sha256 = excluded.file_sha256, name = excluded.name, project = excluded.project,
    tags = excluded.tags, models = excluded.models, document = excluded.document
"""
_RANKED = f"""
SELECT docs.id, docs.session_id, docs.name, docs.project, docs.tags, docs.models,
       sessions.project_id, projects.name, sessions.path,
       COALESCE(sessions.started_at, sessions.created_at),
       ts_rank('{RANK_WEIGHTS}', docs.document, query) AS score
FROM {DOCS_TABLE} AS docs
CROSS JOIN to_tsquery('{CONFIG}', :query) AS query
LEFT JOIN sessions ON sessions.id = docs.session_id
LEFT JOIN projects ON projects.id = sessions.project_id
WHERE docs.document @@ query
ORDER BY score DESC, docs.id DESC
"""
_HOLDING = f"""
SELECT id FROM {DOCS_TABLE}
WHERE id = ANY(:ids) AND document @@ to_tsquery('{CONFIG}', :query)
"""


def index_many(engine: Engine, docs: Sequence[SearchDoc]) -> None:
    """Index `docs` in one transaction, each replacing what its session had indexed."""
    with _transaction(engine) as connection:
        for doc in docs:
            _upsert(connection, doc)


def remove_sessions(engine: Engine, session_ids: Iterable[str]) -> None:
    with _transaction(engine) as connection:
        for session_id in session_ids:
            connection.execute(
                text(f"DELETE FROM {DOCS_TABLE} WHERE session_id = :session_id"),
                {"session_id": session_id},
            )


def reindex_all(engine: Engine, docs: Iterable[SearchDoc]) -> None:
    """Replace the whole search index with `docs`, in one transaction."""
    with _transaction(engine) as connection:
        connection.execute(text(f"DELETE FROM {DOCS_TABLE}"))
        for doc in docs:
            _upsert(connection, doc)


def search(
    engine: Engine, query: str, read_file: ReadFile, *, wanted: SessionFilter, limit: int
) -> list[Hit]:
    """The best `limit` sessions matching `query` that `wanted` keeps, most relevant first."""
    if limit < 1:
        raise SearchQueryError(query, f"limit must be at least 1, not {limit}")
    if wanted.since:
        check_iso_date(query, wanted.since)
    fts = search_syntax.fts_query(query)
    try:
        tsquery = pg_query.tsquery(fts)
    except SearchQueryError as exc:  # said of the query as the user wrote it
        raise SearchQueryError(query, exc.problem) from None
    body_query = _body_query(fts)
    try:
        with engine.connect() as connection:
            holders: set[int] = set()

            def holds(row_id: int) -> bool:
                return row_id in holders

            candidates = _ranked(connection, tsquery, wanted, body_query, holders)
            return hits_of(candidates, fts, read_file, holds, limit)
    except DBAPIError as exc:
        if "tsquery" in driver_message(exc):
            raise SearchQueryError(query, driver_message(exc)) from exc
        raise StorageError("the search index", driver_message(exc)) from exc
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc


def _ranked(
    connection: Connection,
    tsquery: str,
    wanted: SessionFilter,
    body_query: str | None,
    holders: set[int],
) -> Iterator[Candidate]:
    """Matching sessions, best first, that `wanted` keeps; before each batch is handed
    on, `holders` gains those of its sessions whose body holds a word searched for."""
    rows = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(
        text(_RANKED), {"query": tsquery}
    )
    while batch := list(itertools.islice(rows, _BATCH)):
        chosen = []
        for (
            row_id,
            session_id,
            name,
            indexed_as,
            tags,
            models,
            pid,
            project,
            path,
            at,
            score,
        ) in batch:
            candidate = Candidate(
                session_id=session_id,
                score=float(score),
                name=name,
                project=indexed_as,
                project_name=project or indexed_as,
                tags=tags,
                models=models,
                path=path or "",
                row_id=row_id,
                in_field=True,  # the body is checked for the words below
            )
            names = [str(n) for n in (project, pid, indexed_as) if n is not None]
            if kept(wanted, candidate, names, None if at is None else str(at)):
                chosen.append(candidate)
        if chosen and body_query:
            ids = [c.row_id for c in chosen]
            found = connection.execute(text(_HOLDING), {"ids": ids, "query": body_query})
            holders.update(row[0] for row in found)
        yield from chosen


def _body_query(fts: str) -> str | None:
    """A tsquery for the body holding any word searched for (not after NOT)."""
    terms = [
        pg_query.term(t, only=pg_query.WEIGHTS["body"])
        for column, t in snippets.positive_terms(fts)
        if column in (None, "body")
    ]
    present = [t for t in terms if t]
    return " | ".join(present) or None


def _upsert(connection: Connection, doc: SearchDoc) -> None:
    values = {
        "session_id": doc.session_id,
        "file_sha256": doc.file_sha256,
        "raw_name": doc.name,
        "raw_project": doc.project,
        "tags": LIST_SEPARATOR.join(doc.tags),
        "models": LIST_SEPARATOR.join(doc.models),
        "name": pg_query.normalized(doc.name),
        "project": pg_query.normalized(doc.project),
        "fields": pg_query.normalized(" ".join([*doc.tags, *doc.models])),
    }
    body = pg_query.normalized(doc.body)
    # The usual body fits at once; a huge one is retried shorter (module doc).
    for cut in BODY_CUTS:
        savepoint = connection.begin_nested()
        try:
            connection.execute(text(_UPSERT), values | {"body": body[:cut]})
        except DBAPIError as exc:
            savepoint.rollback()
            if getattr(exc.orig, "sqlstate", None) != _TOO_LARGE:
                raise
            continue
        savepoint.commit()
        return


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin() whose driver errors become ours."""
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc
