"""Full-text search on PostgreSQL: tsvectors under GIN indexes.

Migration 0012 creates, on PostgreSQL, `session_search_docs`: per session its short
fields, the file version it came from and `fields`, a tsvector of the name (weight A),
project (B), tags and models (C); and `session_search_parts`: the body as tsvectors of
PART_WORDS words each, the last few words of a part repeated at the start of the next
(a phrase across the cut is found). A tsvector keeps word positions only up to 16,383
and holds at most 1 MB: one per body would lose the phrases of every long session. A
part over 1 MB (long distinct tokens: encoded data) is halved until it fits.
All are built with the 'simple' configuration: no stemming and no stop words, so code
words (`useEffect`, `README`, `the`) are found as written. The text is normalised first
(pg_query.normalized), so words split as SQLite's FTS5 splits them and accents do not
matter.

A query is evaluated on sets of sessions (pg_query.evaluate): each term is one lookup in
a GIN index (the parts for the body, `fields` for a short field, both for no column),
and AND / OR / NOT combine the sets, so a query's words may be in different parts.
Ranking is ranking.py's, on the same lookups: ts_rank would read every match's whole
text. PostgreSQL's planner does not count reading a tsvector either and, on a small
table, scans it; a search turns sequential scans off for its own transaction. Snippets
come from the mirrored files, as on SQLite (search_reader.hits_of).
"""

from __future__ import annotations

import dataclasses
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
    candidate_of,
    check_iso_date,
    hits_of,
    kept,
)

if TYPE_CHECKING:
    from syncd.index.search import SearchDoc

CONFIG = "simple"
PARTS_TABLE = "session_search_parts"
# Words (as split by spaces here) per part: PostgreSQL may split one into two (at a
# non-ASCII mark), which still stays under its 16,383 positions.
PART_WORDS = 8000
PART_OVERLAP = 16  # words repeated from the previous part: phrases up to this long
_BATCH = 32  # ranked sessions looked up, and checked for body words, at a time
# SQLSTATE 54000 (program_limit_exceeded): the tsvector is larger than PostgreSQL allows.
_TOO_LARGE = "54000"

_FIELDS = f"""
setweight(to_tsvector('{CONFIG}', :name), 'A')
|| setweight(to_tsvector('{CONFIG}', :project), 'B')
|| setweight(to_tsvector('{CONFIG}', :fields), 'C')
"""
# Deleted then inserted, not updated: a new id, so ties go to the session indexed last.
# Its parts go with it (ON DELETE CASCADE).
_DELETE = f"DELETE FROM {DOCS_TABLE} WHERE session_id = :session_id"
_INSERT = f"""
INSERT INTO {DOCS_TABLE} (session_id, file_sha256, name, project, tags, models, fields)
VALUES (:session_id, :file_sha256, :raw_name, :raw_project, :tags, :models, {_FIELDS})
RETURNING id
"""
_INSERT_PART = f"""
INSERT INTO {PARTS_TABLE} (doc_id, part, words)
VALUES (:doc_id, :part, to_tsvector('{CONFIG}', :text))
"""
# The ids matching, joined into one string by PostgreSQL: thousands of rows cost one
# Python object instead of thousands.
_IN_FIELDS = (
    f"SELECT string_agg(id::text, ',') FROM {DOCS_TABLE} "
    f"WHERE fields @@ to_tsquery('{CONFIG}', :query)"
)
_IN_BODIES = (
    f"SELECT string_agg(DISTINCT doc_id::text, ',') FROM {PARTS_TABLE} "
    f"WHERE words @@ to_tsquery('{CONFIG}', :query)"
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
SELECT DISTINCT doc_id FROM {PARTS_TABLE}
WHERE doc_id = ANY(:ids) AND words @@ to_tsquery('{CONFIG}', :query)
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
        pg_query.tsquery(fts)  # a malformed query is said before any lookup is made
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
    """ranking.Lookups from the GIN indexes on the parts and on `fields`; each term is
    looked up once a search."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._held: dict[tuple[str | None, str], set[int]] = {}

    def matching(self, fts: str) -> set[int]:
        return pg_query.evaluate(fts, self.holding)

    def holding(self, column: str | None, term: str) -> set[int]:
        key = (column, term)
        if key not in self._held:
            self._held[key] = self._holding(column, term)
        return self._held[key]

    def _holding(self, column: str | None, term: str) -> set[int]:
        if column == "body":
            column_query = pg_query.term(term)
            return self._ids(_IN_BODIES, column_query) if column_query else set()
        query = pg_query.term(term, column)
        if query is None:
            return set()
        in_fields = self._ids(_IN_FIELDS, query)
        return in_fields if column else in_fields | self._ids(_IN_BODIES, query)

    def in_field(self, field: str, term: str) -> set[int]:
        query = pg_query.loose(term, pg_query.WEIGHTS[field])
        return self._ids(_IN_FIELDS, query) if query else set()

    def total(self) -> int:
        count = self._connection.execute(text(f"SELECT count(*) FROM {DOCS_TABLE}")).scalar()
        return max(1, int(count or 0))

    def _ids(self, sql: str, query: str) -> set[int]:
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
            judged = candidate_of(row)
            if kept(wanted, *judged):
                chosen.append(
                    dataclasses.replace(judged[0], score=ranked.score, in_field=ranked.in_field)
                )
        in_fields = [c.row_id for c in chosen if c.in_field]
        if in_fields and body_query:
            found = connection.execute(text(_HOLDING), {"ids": in_fields, "query": body_query})
            holders.update(row[0] for row in found)
        yield from chosen


def _body_query(fts: str) -> str | None:
    """A tsquery for the body holding any word searched for (not after NOT)."""
    terms = [
        pg_query.term(t) for column, t in snippets.positive_terms(fts) if column in (None, "body")
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
    doc_id = connection.execute(text(_INSERT), values).scalar_one()
    parts = [
        {"doc_id": doc_id, "part": number, "text": part}
        for number, part in enumerate(body_parts(pg_query.normalized(doc.body)))
    ]
    if not parts:
        return
    savepoint = connection.begin_nested()
    try:  # all at once (one round trip), the usual case
        connection.execute(text(_INSERT_PART), parts)
    except DBAPIError as exc:
        savepoint.rollback()
        if getattr(exc.orig, "sqlstate", None) != _TOO_LARGE:
            raise
        numbers = itertools.count(len(parts))  # after the numbers tried: none is taken
        for part in parts:  # a part is too large: each is inserted, halved until it fits
            _insert_fitting(connection, doc_id, str(part["text"]), numbers)
        return
    savepoint.commit()


def body_parts(body: str) -> list[str]:
    """`body` (normalised) as parts of PART_WORDS words, each starting with the last
    PART_OVERLAP words of the one before."""
    words = body.split()
    step = PART_WORDS - PART_OVERLAP
    return [" ".join(words[start : start + PART_WORDS]) for start in range(0, len(words), step)]


def _insert_fitting(connection: Connection, doc_id: int, part: str, numbers: Iterator[int]) -> None:
    """`part`, or its halves (overlapping) until each fits PostgreSQL's 1 MB tsvector
    (thousands of long distinct tokens, such as encoded data, pass it); a single word
    that large is left out."""
    savepoint = connection.begin_nested()
    try:
        values = {"doc_id": doc_id, "part": next(numbers), "text": part}
        connection.execute(text(_INSERT_PART), values)
    except DBAPIError as exc:
        savepoint.rollback()
        if getattr(exc.orig, "sqlstate", None) != _TOO_LARGE:
            raise
        words = part.split()
        if len(words) > 1:
            half = len(words) // 2
            _insert_fitting(connection, doc_id, " ".join(words[:half]), numbers)
            start = max(0, half - PART_OVERLAP)
            _insert_fitting(connection, doc_id, " ".join(words[start:]), numbers)
        return
    savepoint.commit()


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin() whose driver errors become ours."""
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc
