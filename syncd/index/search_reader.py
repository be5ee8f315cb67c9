"""Answering a search from the index and the mirrored files, with the standard library.

The FTS5 tables (migration 0010) store no text: FTS5 finds the sessions (phrases and
column filters included), ranking.py orders them from the index alone, and the text is
read from the mirrored files only for the snippets of the `limit` sessions shown. Every
function takes a DB-API `sqlite3` connection, so `syncd search` runs without SQLAlchemy
when the index is current (search.py calls the same code through its Engine's driver
connection).
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from syncd.errors import SearchQueryError, StorageError, SyncdError
from syncd.index import ranking, search_syntax, snippets
from syncd.index.filters import SessionFilter

SEARCH_TABLE = "session_search"
DOCS_TABLE = "session_search_docs"
FIELDS_TABLE = "session_search_fields"
COLUMNS = ("name", "project", "tags", "models", "body")
# Tags and models are stored one per line, so a filter can match a whole entry.
LIST_SEPARATOR = "\n"
# The first this-many bytes of a body are searchable (and where a snippet is looked for).
MAX_BODY_BYTES = 4 * 1024 * 1024
# Bytes of files one search reads for its snippets, at most (and the opening of each hit
# past it): a word first used deep in long sessions would otherwise make a search read
# megabytes per hit, and its time grow with the matches. Hits past it show how their
# session begins.
SNIPPET_BUDGET_BYTES = 4 * 1024 * 1024
# Of which searched as text (accents: ten times slower than bytes), at most.
SNIPPET_TEXT_BUDGET_BYTES = 2 * 1024 * 1024
_RANKED_BATCH = 32  # candidates looked up at a time, in rank order
_FRONT_MATTER = (b"---\n", b"---\r\n")

#: Reads a mirrored file (a path relative to the mirror root) as chunks of bytes; raises
#: a SyncdError when it cannot (gone, a link, unreadable).
ReadFile = Callable[[str], Iterable[bytes]]


@dataclass(frozen=True)
class Hit:
    """One matching session. `rank`: higher is more relevant (see ranking.py)."""

    session_id: str
    rank: float
    snippet: str
    name_highlight: str
    name: str = ""
    project_name: str = ""  # the project's current name, else the one it was indexed under
    path: str = ""  # the mirrored file, relative to the mirror root


@dataclass(frozen=True)
class Candidate:
    session_id: str
    score: float
    name: str
    project: str
    project_name: str
    tags: str
    models: str
    path: str
    row_id: int
    in_field: bool = False  # a word searched for is in a short field (see ranking.py)


def find(
    connection: sqlite3.Connection,
    query: str,
    read_file: ReadFile,
    *,
    wanted: SessionFilter | None = None,
    limit: int = 20,
) -> list[Hit]:
    """The best `limit` sessions matching `query` that `wanted` keeps, most relevant first.

    `project` in the filter also matches the project name the session was indexed under.
    """
    if limit < 1:
        raise SearchQueryError(query, f"limit must be at least 1, not {limit}")
    wanted = wanted or SessionFilter()
    if wanted.since:
        check_iso_date(query, wanted.since)
    fts = search_syntax.fts_query(query)
    try:
        in_bodies = _BodyCheck(connection, _body_query(fts))
        return hits_of(_ranked(connection, fts, wanted), fts, read_file, in_bodies.holds, limit)
    except sqlite3.Error as exc:
        reason = str(exc)
        if reason.startswith("fts5:") or reason.startswith("unterminated string"):
            raise SearchQueryError(query, reason.removeprefix("fts5: ")) from exc
        raise StorageError("the search index", reason) from exc


def hits_of(
    candidates: Iterable[Candidate],
    fts: str,
    read_file: ReadFile,
    holds: Callable[[int], bool],
    limit: int,
) -> list[Hit]:
    """The first `limit` candidates (best first) as hits, each with its snippet cut from
    its mirrored file; `holds(row_id)`: whether the body holds a word searched for. The
    same for every backend: only finding and ranking the candidates differs."""
    hits: list[Hit] = []
    in_body, in_name = snippets.Highlighter(fts, "body"), snippets.Highlighter(fts, "name")
    budget = _Budget(SNIPPET_BUDGET_BYTES)
    for candidate in candidates:
        body = _body_bytes(read_file, candidate.path, budget)
        # A session found only for its body has the words there; one that holds them
        # in its name or another field may not: the index says.
        holding = not candidate.in_field or holds(candidate.row_id)
        if budget.left > 0 and holding:
            text_limit = max(0, SNIPPET_TEXT_BUDGET_BYTES - in_body.text_scanned)
            snippet = in_body.snippet_of_bytes(body, text_limit)
        else:  # the words are in the name or another field: show how the session begins
            snippet = in_body.snippet_of_bytes(itertools.islice(body, 1))
        hits.append(_hit(candidate, snippet, in_name.mark(candidate.name)))
        if len(hits) >= limit:
            break
    return hits


def _body_query(fts: str) -> str:
    """An FTS5 query for the body holding any word searched for (not after NOT)."""
    terms = [t for column, t in snippets.positive_terms(fts) if column in (None, "body")]
    return " OR ".join(f"body : {term}" for term in terms if search_syntax.words_of(term))


class _BodyCheck:
    """Whether a session's body holds a word searched for: the sessions that do are
    looked up once, when a hit first needs it (one lookup per hit cost more, a prefix
    most: each expands it again)."""

    def __init__(self, connection: sqlite3.Connection, body_query: str) -> None:
        self._connection = connection
        self._query = body_query
        self._all: set[int] | None = None

    def holds(self, row_id: int) -> bool:
        if not self._query:
            return False
        if self._all is None:
            self._all = ranking.rowids(self._connection, SEARCH_TABLE, self._query)
        return row_id in self._all


def is_current(connection: sqlite3.Connection) -> bool:
    """Whether the index holds, for every session, the text of its current file version,
    and nothing else: one indexed scan and two counts, no file read."""
    row = connection.execute(
        "SELECT NOT EXISTS ("
        f" SELECT 1 FROM sessions LEFT JOIN {DOCS_TABLE} AS docs ON docs.session_id = sessions.id"
        " WHERE docs.file_sha256 IS NOT COALESCE(sessions.file_sha256, '')"
        f") AND (SELECT count(*) FROM {DOCS_TABLE}) = (SELECT count(*) FROM sessions)"
    ).fetchone()
    return bool(row[0])


def _ranked(connection: sqlite3.Connection, fts: str, wanted: SessionFilter) -> Iterator[Candidate]:
    """Matching sessions, best first, that `wanted` keeps; rows a re-index left behind
    (no longer in DOCS_TABLE) are skipped."""
    order = ranking.rank(connection, fts)
    while batch := list(itertools.islice(order, _RANKED_BATCH)):
        details = _details(connection, [ranked.row_id for ranked in batch])
        for ranked in batch:
            found = details.get(ranked.row_id)
            if found is not None and kept(wanted, *found):
                yield dataclasses.replace(found[0], score=ranked.score, in_field=ranked.in_field)


def _details(
    connection: sqlite3.Connection, row_ids: list[int]
) -> dict[int, tuple[Candidate, list[str], str | None]]:
    """rowid -> (its session, with a score to fill in; its project names and id; start)."""
    marks = ", ".join("?" * len(row_ids))
    rows = connection.execute(
        "SELECT docs.id, docs.session_id, docs.name, docs.project, docs.tags, docs.models, "
        "sessions.project_id, projects.name, sessions.path, "
        "COALESCE(sessions.started_at, sessions.created_at) "
        f"FROM {DOCS_TABLE} AS docs "
        "LEFT JOIN sessions ON sessions.id = docs.session_id "
        "LEFT JOIN projects ON projects.id = sessions.project_id "
        f"WHERE docs.id IN ({marks})",
        row_ids,
    )
    return {row[0]: candidate_of(row) for row in rows}


def candidate_of(row: Sequence[Any]) -> tuple[Candidate, list[str], str | None]:
    """A details row (docs id, session id, name, indexed project, tags, models, project
    id, project name, path, start) as a candidate with no score yet, the names its project
    answers to, and its start: what `kept` judges."""
    row_id, session_id, name, indexed_as, tags, models, project_id, project, path, at = row
    candidate = Candidate(
        session_id=session_id,
        score=0.0,
        name=name,
        project=indexed_as,
        project_name=project or indexed_as,
        tags=tags,
        models=models,
        path=path or "",
        row_id=row_id,
    )
    names = [str(n) for n in (project, project_id, indexed_as) if n is not None]
    return candidate, names, None if at is None else str(at)


def kept(wanted: SessionFilter, candidate: Candidate, projects: list[str], at: str | None) -> bool:
    if not wanted:
        return True
    return wanted.keeps(
        projects=projects,
        tags=candidate.tags.split(LIST_SEPARATOR),
        models=candidate.models.split(LIST_SEPARATOR),
        started=at,
    )


def _hit(candidate: Candidate, snippet: str, name_highlight: str) -> Hit:
    return Hit(
        session_id=candidate.session_id,
        rank=candidate.score,
        snippet=snippet,
        name_highlight=name_highlight,
        name=candidate.name,
        project_name=candidate.project_name,
        path=candidate.path,
    )


@dataclass
class _Budget:
    left: int  # bytes of files a search may still read for its snippets


def _body_bytes(read_file: ReadFile, path: str, budget: _Budget) -> Iterator[bytes]:
    """The searchable part of a file after its front matter, a chunk at a time, while
    the budget lasts (always the first chunk); nothing when it cannot be read."""
    taken = 0
    try:
        for chunk in read_file(path):
            piece = chunk[: MAX_BODY_BYTES - taken]
            if taken == 0:
                piece = without_front_matter(piece)
            taken += len(chunk)
            budget.left -= len(chunk)
            yield piece
            if taken >= MAX_BODY_BYTES or budget.left <= 0:
                return
    except SyncdError:
        return  # removed or replaced since it was indexed: shown without a snippet


def without_front_matter(data: bytes) -> bytes:
    """`data` without a leading YAML block (when it closes within the bytes given)."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    if not data.startswith(_FRONT_MATTER, start):
        return data
    position = start + 3
    while (found := data.find(b"\n---", position)) != -1:
        line_end = data.find(b"\n", found + 1)
        if line_end == -1:
            return data
        if data[found + 1 : line_end].rstrip(b"\r") == b"---":
            return data[line_end + 1 :]
        position = found + 1
    return data


def check_iso_date(query: str, since: str) -> None:
    try:
        date.fromisoformat(since) if len(since) == 10 else datetime.fromisoformat(since)
    except ValueError:
        raise SearchQueryError(
            query, f"since={since!r} is not an ISO date such as 2026-01-31"
        ) from None
