"""Answering a search from the index and the mirrored files, with the standard library.

The FTS5 table (migration 0010) stores no text, only which words each session has in
which column. So FTS5 ranks sessions (bm25, a hit in the name counting most), and the
text is read from the mirrored files for the few sessions shown: for their snippets, and
for deciding a phrase of several words, which the index cannot (see search_syntax).

Ranking reads the index alone (see ranking.py), and files are read for candidates in rank
order only until `limit` hits are found. Every function takes a DB-API `sqlite3`
connection, so `syncd search` runs without SQLAlchemy when the index is current
(search.py calls the same code through its Engine's driver connection).
"""

from __future__ import annotations

import codecs
import dataclasses
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from syncd.errors import SearchQueryError, StorageError, SyncdError
from syncd.index import ranking, search_syntax, snippets
from syncd.index.filters import SessionFilter

SEARCH_TABLE = "session_search"
DOCS_TABLE = "session_search_docs"
COLUMNS = ("name", "project", "tags", "models", "body")
# Tags and models are stored one per line, so a filter can match a whole entry.
LIST_SEPARATOR = "\n"
# The first this-many bytes of a body are searchable (and what a phrase is checked on).
MAX_BODY_BYTES = 4 * 1024 * 1024
# A snippet shows the first match within this many bytes of the body, else the opening:
# matching words across megabytes costs more than the rest of a search.
SNIPPET_BYTES = MAX_BODY_BYTES
_RANKED_BATCH = 64  # candidates looked up at a time, in rank order
_FRONT_MATTER = ("---\n", "---\r\n")
_CLOSING = ("\n---\n", "\n---\r\n")

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
class _Candidate:
    session_id: str
    score: float
    name: str
    project: str
    project_name: str
    tags: str
    models: str
    path: str


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
        _check_iso_date(query, wanted.since)
    fts = search_syntax.fts_query(query)
    matcher, fts_candidates = _plan(fts)
    hits: list[Hit] = []
    in_body, in_name = snippets.Highlighter(fts, "body"), snippets.Highlighter(fts, "name")
    try:
        for candidate in _ranked(connection, fts_candidates, wanted):
            text = _body_text(read_file, candidate.path) if matcher else None
            if matcher and not matcher.matches(_columns(candidate, text or "")):
                continue
            body = [text] if text is not None else _snippet_pieces(read_file, candidate.path)
            hits.append(_hit(candidate, in_body.snippet(body), in_name.mark(candidate.name)))
            if len(hits) >= limit:
                break
    except sqlite3.Error as exc:
        reason = str(exc)
        if reason.startswith("fts5:") or reason.startswith("unterminated string"):
            raise SearchQueryError(query, reason.removeprefix("fts5: ")) from exc
        raise StorageError("the search index", reason) from exc
    return hits


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


def _plan(fts: str) -> tuple[search_syntax.Matcher | None, str]:
    """(a matcher when the text must decide, the FTS5 query that finds the candidates)."""
    try:
        tree = search_syntax.parse(fts)
    except SearchQueryError:
        return None, fts  # FTS5 says what is wrong with it, in its own words
    if not search_syntax.needs_check(tree):
        return None, fts
    return search_syntax.Matcher(tree), search_syntax.candidates(tree)


def _ranked(
    connection: sqlite3.Connection, fts: str, wanted: SessionFilter
) -> Iterator[_Candidate]:
    """Matching sessions, best first, that `wanted` keeps; rows a re-index left behind
    (no longer in DOCS_TABLE) are skipped."""
    order = ranking.rank(connection, fts)
    for start in range(0, len(order), _RANKED_BATCH):
        batch = order[start : start + _RANKED_BATCH]
        details = _details(connection, [row_id for row_id, _ in batch])
        for row_id, score in batch:
            found = details.get(row_id)
            if found is not None and _kept(wanted, *found):
                yield dataclasses.replace(found[0], score=score)


def _details(
    connection: sqlite3.Connection, row_ids: list[int]
) -> dict[int, tuple[_Candidate, list[str], str | None]]:
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
    found = {}
    for row_id, session_id, name, indexed_as, tags, models, project_id, project, path, at in rows:
        candidate = _Candidate(
            session_id=session_id,
            score=0.0,
            name=name,
            project=indexed_as,
            project_name=project or indexed_as,
            tags=tags,
            models=models,
            path=path or "",
        )
        names = [str(n) for n in (project, project_id, indexed_as) if n is not None]
        found[row_id] = (candidate, names, None if at is None else str(at))
    return found


def _kept(
    wanted: SessionFilter, candidate: _Candidate, projects: list[str], at: str | None
) -> bool:
    if not wanted:
        return True
    return wanted.keeps(
        projects=projects,
        tags=candidate.tags.split(LIST_SEPARATOR),
        models=candidate.models.split(LIST_SEPARATOR),
        started=at,
    )


def _columns(candidate: _Candidate, body: str) -> dict[str, str]:
    return {
        "name": candidate.name,
        "project": candidate.project,
        "tags": candidate.tags,
        "models": candidate.models,
        "body": body,
    }


def _hit(candidate: _Candidate, snippet: str, name_highlight: str) -> Hit:
    return Hit(
        session_id=candidate.session_id,
        rank=candidate.score,
        snippet=snippet,
        name_highlight=name_highlight,
        name=candidate.name,
        project_name=candidate.project_name,
        path=candidate.path,
    )


def _snippet_pieces(read_file: ReadFile, path: str) -> Iterator[str]:
    # A snippet is looked for in the searchable part of the body only.
    return _body_pieces(read_file, path, limit=SNIPPET_BYTES)


def _body_text(read_file: ReadFile, path: str) -> str | None:
    """The searchable body of a file (None when it cannot be read)."""
    pieces = list(_body_pieces(read_file, path, limit=MAX_BODY_BYTES))
    return "".join(pieces) if pieces else None


def _body_pieces(read_file: ReadFile, path: str, limit: int | None = None) -> Iterator[str]:
    """The file's text after its front matter, a piece at a time (nothing if unreadable)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    taken = 0
    opening = True
    try:
        for chunk in read_file(path):
            if limit is not None:
                chunk = chunk[: limit - taken]
            taken += len(chunk)
            text = decoder.decode(chunk)
            if opening:
                text, opening = without_front_matter(text), False
            yield text
            if limit is not None and taken >= limit:
                break
    except SyncdError:
        return  # removed or replaced since it was indexed: shown without a snippet
    yield decoder.decode(b"", final=True)


def without_front_matter(text: str) -> str:
    """`text` without a leading YAML block (when it closes within the text given)."""
    start = 1 if text.startswith("\ufeff") else 0
    if not text.startswith(_FRONT_MATTER, start):
        return text
    ends = [found for closing in _CLOSING if (found := text.find(closing, start + 3)) != -1]
    if not ends:
        return text
    end = min(ends)
    return text[text.index("\n", end + 1) + 1 :]


def _check_iso_date(query: str, since: str) -> None:
    try:
        date.fromisoformat(since) if len(since) == 10 else datetime.fromisoformat(since)
    except ValueError:
        raise SearchQueryError(
            query, f"since={since!r} is not an ISO date such as 2026-01-31"
        ) from None
