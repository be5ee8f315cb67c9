"""Full-text search over mirrored sessions: an SQLite FTS5 table beside the index.

The tables are created by migration 0005 and have no ORM model: `session_search_docs`
holds each session's indexed text (the body zlib-compressed) and the file version it came
from; `session_search` is an external-content FTS5 table over it, reading bodies through a
view that inflates them, so the database holds the text once, compressed. This module
reads and writes them with plain SQL on the Engine it is given.

Query syntax is FTS5's, made forgiving for plain words:
- `"quoted phrases"`, `prefix*`, `AND` / `OR` / `NOT` (upper case), parentheses and
  column filters (`name:login`) pass through to FTS5 unchanged;
- a bare word holding characters FTS5 reads as syntax (`auth-migration`, `README.md`,
  `src/app.py`) is quoted into a phrase, so it matches those words next to each other;
- anything FTS5 still cannot parse raises SearchQueryError (one line, no traceback).
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.errors import SearchQueryError, SearchUnavailableError, StorageError, driver_message
from syncd.index import snippets
from syncd.index.filters import SessionFilter

SEARCH_TABLE = "session_search"
DOCS_TABLE = "session_search_docs"
INFLATE_FUNCTION = "syncd_inflate"
COLUMNS = ("name", "project", "tags", "models", "body")
# Tags and models are stored one per line, so a filter can match a whole entry.
_LIST_SEPARATOR = "\n"
# Weights per column, in COLUMNS order: a hit in the name counts most, the body least.
_RANK = "bm25(session_search, 10.0, 4.0, 3.0, 3.0, 1.0)"
# Level 1: bodies are plain text and compress ~4x at that level; higher levels cost far
# more time for a few percent.
_COMPRESSION_LEVEL = 1

_OPERATORS = frozenset({"AND", "OR", "NOT"})
# What FTS5 accepts unquoted: letters, digits, '_', and any non-ASCII character.
_BAREWORD = re.compile(r"[\w\x80-\U0010ffff]+")
_COLUMN_FILTER = re.compile(r"(?P<column>name|project|tags|models|body):(?P<rest>.*)")
# A double-quoted string (FTS5 escapes a quote inside it by doubling it), a parenthesis,
# or a run of anything else up to the next space, quote or parenthesis.
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"(?:[^"]|"")*"\*?)|(?P<paren>[()])|(?P<word>[^\s"()]+))')


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


@dataclass(frozen=True)
class Hit:
    """One matching session. `rank` is the bm25 score negated: higher is more relevant."""

    session_id: str
    rank: float
    snippet: str
    name_highlight: str


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
    with _transaction(engine) as connection:
        for doc in docs:
            _delete(connection, doc.session_id)
            _insert(connection, doc)


def indexed_versions(engine: Engine) -> dict[str, str]:
    """session id -> sha256 of the file version the index holds for it."""
    with _transaction(engine) as connection:
        rows = connection.execute(text(f"SELECT session_id, file_sha256 FROM {DOCS_TABLE}"))
        return {row[0]: row[1] for row in rows}


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
                "WHERE docs.file_sha256 IS NOT COALESCE(sessions.file_sha256, '')"
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
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {DOCS_TABLE}")).scalar() or 0)


def remove_sessions(engine: Engine, session_ids: Iterable[str]) -> None:
    """Forget these sessions; removing one that was never indexed is not an error."""
    with _transaction(engine) as connection:
        for session_id in session_ids:
            _delete(connection, session_id)


def reindex_all(engine: Engine, rows: Iterable[SearchDoc]) -> None:
    """Replace the whole search index with `rows`, in one transaction."""
    with _transaction(engine) as connection:
        connection.execute(
            text(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('delete-all')")
        )
        connection.execute(text(f"DELETE FROM {DOCS_TABLE}"))
        for doc in rows:
            _insert(connection, doc)


def inflate(compressed: bytes | None) -> str | None:
    """The SQL function the search view reads bodies with: zlib bytes -> text."""
    if compressed is None:
        return None
    return zlib.decompress(compressed).decode("utf-8")


def search(
    engine: Engine,
    query: str,
    *,
    project: str | None = None,
    tag: str | None = None,
    model: str | None = None,
    since: str | None = None,
    limit: int = 20,
) -> list[Hit]:
    """The best `limit` sessions matching `query`, most relevant first.

    The filters are `syncd ls`'s (see SessionFilter); `project` also matches the project
    name the session was indexed under.
    """
    if limit < 1:
        raise SearchQueryError(query, f"limit must be at least 1, not {limit}")
    if since:
        _check_iso_date(query, since)
    wanted = SessionFilter(project=project, tag=tag, model=model, since=since)
    # Filtered hits are chosen here, so only an unfiltered search can stop the query early.
    sql = text(
        "SELECT docs.id, docs.session_id, docs.name, docs.project, docs.tags, docs.models, "
        "sessions.project_id, projects.name AS project_name, "
        f"COALESCE(sessions.started_at, sessions.created_at) AS started, {_RANK} AS score "
        "FROM session_search "
        f"JOIN {DOCS_TABLE} AS docs ON docs.id = session_search.rowid "
        "LEFT JOIN sessions ON sessions.id = docs.session_id "
        "LEFT JOIN projects ON projects.id = sessions.project_id "
        "WHERE session_search MATCH :query "
        "ORDER BY score, docs.session_id" + ("" if wanted else " LIMIT :limit")
    )
    fts = fts_query(query)
    try:
        with _transaction(engine) as connection:
            found = connection.execute(sql, {"query": fts, "limit": limit})
            rows = [row for row in found if _kept(wanted, row)][:limit]
            bodies = _compressed_bodies(connection, [row.session_id for row in rows])
    except StorageError as exc:
        if _is_query_problem(exc.reason):
            raise SearchQueryError(query, exc.reason.removeprefix("fts5: ")) from exc.__cause__
        raise
    in_body, in_name = snippets.Highlighter(fts, "body"), snippets.Highlighter(fts, "name")
    return [
        Hit(
            row.session_id,
            -float(row.score),
            _snippet(in_body, bodies.get(row.session_id)),
            in_name.mark(row.name),
        )
        for row in rows
    ]


def _kept(wanted: SessionFilter, row: Row[Any]) -> bool:
    names = (row.project_name, row.project_id, row.project)
    return wanted.keeps(
        projects=[name for name in names if name is not None],
        tags=(row.tags or "").split(_LIST_SEPARATOR),
        models=(row.models or "").split(_LIST_SEPARATOR),
        started=row.started,
    )


def _compressed_bodies(connection: Connection, session_ids: list[str]) -> dict[str, bytes]:
    """The hits' bodies, looked up by session: a sync may have re-indexed one meanwhile."""
    if not session_ids:
        return {}
    rows = connection.execute(
        text(f"SELECT session_id, body FROM {DOCS_TABLE} WHERE session_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": session_ids},
    )
    return {row[0]: row[1] for row in rows}


def _snippet(highlighter: snippets.Highlighter, compressed: bytes | None) -> str:
    # Inflated piece by piece, and only up to the first match.
    if compressed is None:
        return ""  # removed by a sync since the query ran
    try:
        return highlighter.snippet(snippets.inflated(io.BytesIO(compressed).read))
    except zlib.error:
        return ""


def fts_query(query: str) -> str:
    """`query` as FTS5 should read it: bare words with punctuation become quoted phrases."""
    if not query.strip():
        raise SearchQueryError(query, "there is nothing to search for")
    parts: list[str] = []
    position = 0
    stripped = query.rstrip()
    while position < len(stripped):
        token = _TOKEN.match(stripped, position)
        if token is None or token.end() == position:
            raise SearchQueryError(query, "a double quote is not closed")
        position = token.end()
        if token["word"] is not None:
            parts.extend(_word(query, token["word"]))
        else:
            parts.append(token["phrase"] or token["paren"])
    if not parts:
        raise SearchQueryError(query, "it has no words, only punctuation")
    return " ".join(parts)


def include_name_except_search(name: str | None, type_: str, parent_names: Any) -> bool:
    """An Alembic `include_name` hook that hides the FTS5 table and its shadow tables.

    Autogenerate would otherwise propose dropping them, since they have no model.
    """
    if type_ != "table" or name is None:
        return True
    return name != SEARCH_TABLE and not name.startswith(f"{SEARCH_TABLE}_")


def _word(query: str, word: str) -> list[str]:
    """One whitespace-separated bare word, as FTS5 tokens (empty when only punctuation)."""
    if word in _OPERATORS:
        return [word]
    column = _COLUMN_FILTER.fullmatch(word)
    if column is not None:
        rest = _word(query, column["rest"]) if column["rest"] else []
        if not rest or rest[0] in _OPERATORS:
            raise SearchQueryError(query, f"{column['column']}: needs a word after it")
        return [f"{column['column']}:{rest[0]}"]
    prefix = word.endswith("*")
    stem = word.removesuffix("*")
    if "*" in stem:
        raise SearchQueryError(query, f"{word!r} has a * that is not at the end of the word")
    if _BAREWORD.fullmatch(stem):
        return [word]
    if not _BAREWORD.search(stem):
        if prefix:
            raise SearchQueryError(query, f"{word!r} has a * with no word before it")
        return []
    quoted = '"' + stem.replace('"', '""') + '"'
    return [quoted + ("*" if prefix else "")]


def _check_iso_date(query: str, since: str) -> None:
    try:
        date.fromisoformat(since) if len(since) == 10 else datetime.fromisoformat(since)
    except ValueError:
        raise SearchQueryError(
            query, f"since={since!r} is not an ISO date such as 2026-01-31"
        ) from None


def _is_query_problem(reason: str) -> bool:
    return reason.startswith("fts5:") or reason.startswith("unterminated string")


def _delete(connection: Connection, session_id: str) -> None:
    # An external-content FTS5 row is removed by handing FTS5 the text it indexed.
    columns = ", ".join(COLUMNS[:-1])
    connection.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, {', '.join(COLUMNS)}) "
            f"SELECT 'delete', id, {columns}, {INFLATE_FUNCTION}(body) "
            f"FROM {DOCS_TABLE} WHERE session_id = :session_id"
        ),
        {"session_id": session_id},
    )
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
        "tags": _LIST_SEPARATOR.join(doc.tags),
        "models": _LIST_SEPARATOR.join(doc.models),
    }
    row_id = connection.execute(
        text(
            f"INSERT INTO {DOCS_TABLE} (session_id, file_sha256, name, project, tags, models, "
            "body) VALUES (:session_id, :file_sha256, :name, :project, :tags, :models, :packed)"
        ),
        values | {"packed": zlib.compress(doc.body.encode("utf-8"), _COMPRESSION_LEVEL)},
    ).lastrowid
    placeholders = ", ".join(f":{column}" for column in COLUMNS)
    connection.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE} (rowid, {', '.join(COLUMNS)}) VALUES (:id, {placeholders})"
        ),
        values | {"id": row_id, "body": doc.body},
    )


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin() that refuses non-SQLite engines and turns driver errors into ours."""
    if engine.dialect.name != "sqlite":
        raise SearchUnavailableError(engine.dialect.name)
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StorageError("the search index", driver_message(exc)) from exc
