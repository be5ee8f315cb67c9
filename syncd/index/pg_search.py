"""Full-text search on PostgreSQL: tsvectors per session under GIN indexes.

Migration 0011 creates `session_search_docs` on PostgreSQL: per session its short fields,
the file version it came from, `document`, a tsvector of the name (weight A), project
(B), tags and models (C) and body (D), and `fields`, one of the short fields alone; both
built with the 'simple' configuration: no stemming and no stop words, so code words
(`useEffect`, `README`, `the`) are found as written. The text is normalised first
(pg_query.normalized), so words split as SQLite's FTS5 splits them and accents do not
matter. Queries are pg_query's translation of the same syntax.

Ranking is ranking.py's, on SQLite and here alike: which sessions hold each word comes
from the GIN indexes (sets of ids, no tsvector read), which hold it in a short field
from `fields` (small). ts_rank would read every matching session's whole `document`: on
a word most sessions have, most of a search's time. PostgreSQL's planner does not count
that reading either, so a search turns sequential scans off for its own transaction.
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
from syncd.index import pg_query, ranking, search_syntax, snippets
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
_BATCH = 32  # ranked sessions looked up, and checked for body words, at a time
# SQLSTATE 54000 (program_limit_exceeded): the tsvector is larger than PostgreSQL allows.
_TOO_LARGE = "54000"
# Characters of a body indexed, tried in order until its tsvector fits (None: all of it).
BODY_CUTS = (None, 1024 * 1024, 256 * 1024, 0)

_FIELDS = f"""
setweight(to_tsvector('{CONFIG}', :name), 'A')
|| setweight(to_tsvector('{CONFIG}', :project), 'B')
|| setweight(to_tsvector('{CONFIG}', :fields), 'C')
"""
# Deleted then inserted, not updated: a new id, so ties go to the session indexed last.
_DELETE = f"DELETE FROM {DOCS_TABLE} WHERE session_id = :session_id"
_INSERT = f"""
INSERT INTO {DOCS_TABLE}
    (session_id, file_sha256, name, project, tags, models, fields, document)
SELECT :session_id, :file_sha256, :raw_name, :raw_project, :tags, :models, fields,
       fields || setweight(to_tsvector('{CONFIG}', :body), 'D')
FROM (SELECT {_FIELDS} AS fields) AS short
"""
_IDS = (
    f"SELECT string_agg(id::text, ',') FROM {DOCS_TABLE} "
    f"WHERE {{column}} @@ to_tsquery('{CONFIG}', :query)"
)
_DETAILS = f"""
SELECT docs.id, docs.session_id, docs.name, docs.project, docs.tags, docs.models,
       sessions.project_id, projects.name, sessions.path,
       COALESCE(sessions.started_at, sessions.created_at)
FROM {DOCS_TABLE} AS docs
LEFT JOIN sessions ON sessions.id = docs.session_id
LEFT JOIN projects ON projects.id = sessions.project_id
WHERE docs.id = ANY(:ids)
"""
_HOLDING = f"""
SELECT id FROM {DOCS_TABLE}
WHERE id = ANY(:ids) AND document @@ to_tsquery('{CONFIG}', :query)
"""


def index_many(engine: Engine, docs: Sequence[SearchDoc]) -> None:
    """Index `docs` in one transaction, each replacing what its session had indexed."""
    with _transaction(engine) as connection:
        for doc in docs:
            _replace(connection, doc)


def remove_sessions(engine: Engine, session_ids: Iterable[str]) -> None:
    with _transaction(engine) as connection:
        for session_id in session_ids:
            connection.execute(text(_DELETE), {"session_id": session_id})


def reindex_all(engine: Engine, docs: Iterable[SearchDoc]) -> None:
    """Replace the whole search index with `docs`, in one transaction."""
    with _transaction(engine) as connection:
        connection.execute(text(f"DELETE FROM {DOCS_TABLE}"))
        for doc in docs:
            _replace(connection, doc)


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
        pg_query.tsquery(fts)  # a malformed query is said before any lookup
    except SearchQueryError as exc:  # said of the query as the user wrote it
        raise SearchQueryError(query, exc.problem) from None
    body_query = _body_query(fts)
    try:
        with engine.connect() as connection:
            # Every lookup here is meant for a GIN index (module doc).
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            holders: set[int] = set()
            order = ranking.rank_with(GinLookups(connection), fts)
            candidates = _kept(connection, order, wanted, body_query, holders)
            return hits_of(candidates, fts, read_file, holders.__contains__, limit)
    except DBAPIError as exc:
        if "tsquery" in driver_message(exc):
            raise SearchQueryError(query, driver_message(exc)) from exc
        raise StorageError("the search index", driver_message(exc)) from exc
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc


class GinLookups:
    """ranking.Lookups from the GIN indexes on `document` and `fields`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def matching(self, fts: str) -> set[int]:
        return self._ids("document", pg_query.tsquery(fts))

    def holding(self, column: str | None, term: str) -> set[int]:
        query = pg_query.term(term, column)
        return self._ids("document", query) if query else set()

    def in_field(self, field: str, term: str) -> set[int]:
        query = pg_query.loose(term, pg_query.WEIGHTS[field])
        return self._ids("fields", query) if query else set()

    def total(self) -> int:
        count = self._connection.execute(text(f"SELECT count(*) FROM {DOCS_TABLE}")).scalar()
        return max(1, int(count or 0))

    def _ids(self, column: str, query: str) -> set[int]:
        """The ids matching, joined into one string by PostgreSQL: thousands of rows cost
        one Python object instead of thousands."""
        sql = _IDS.format(column=column)
        joined = self._connection.execute(text(sql), {"query": query}).scalar()
        return set(map(int, joined.split(","))) if joined else set()


def _kept(
    connection: Connection,
    order: Iterator[ranking.Ranked],
    wanted: SessionFilter,
    body_query: str | None,
    holders: set[int],
) -> Iterator[Candidate]:
    """The ranked sessions `wanted` keeps, best first; before each batch is handed on,
    `holders` gains those of its sessions whose body holds a word searched for."""
    while batch := list(itertools.islice(order, _BATCH)):
        ids = [ranked.row_id for ranked in batch]
        details = {row[0]: row for row in connection.execute(text(_DETAILS), {"ids": ids})}
        chosen = []
        for ranked in batch:
            row = details.get(ranked.row_id)
            if row is None:
                continue  # removed since the lookups
            row_id, session_id, name, indexed_as, tags, models, pid, project, path, at = row
            candidate = Candidate(
                session_id=session_id,
                score=ranked.score,
                name=name,
                project=indexed_as,
                project_name=project or indexed_as,
                tags=tags,
                models=models,
                path=path or "",
                row_id=row_id,
                in_field=ranked.in_field,
            )
            names = [str(n) for n in (project, pid, indexed_as) if n is not None]
            if kept(wanted, candidate, names, None if at is None else str(at)):
                chosen.append(candidate)
        in_fields = [c.row_id for c in chosen if c.in_field]
        if in_fields and body_query:
            found = connection.execute(text(_HOLDING), {"ids": in_fields, "query": body_query})
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


def _replace(connection: Connection, doc: SearchDoc) -> None:
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
    connection.execute(text(_DELETE), values)
    body = pg_query.normalized(doc.body)
    # The usual body fits at once; a huge one is retried shorter (module doc).
    for cut in BODY_CUTS:
        savepoint = connection.begin_nested()
        try:
            connection.execute(text(_INSERT), values | {"body": body[:cut]})
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
