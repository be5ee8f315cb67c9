"""Full-text search over mirrored sessions: an SQLite FTS5 table beside the index.

The `session_search` table is created by migration 0004 and has no ORM model (it is
virtual); this module reads and writes it with plain SQL on the Engine it is given.

Query syntax is FTS5's, made forgiving for plain words:
- `"quoted phrases"`, `prefix*`, `AND` / `OR` / `NOT` (upper case), parentheses and
  column filters (`name:login`) pass through to FTS5 unchanged;
- a bare word holding characters FTS5 reads as syntax (`auth-migration`, `README.md`,
  `src/app.py`) is quoted into a phrase, so it matches those words next to each other;
- anything FTS5 still cannot parse raises SearchQueryError (one line, no traceback).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.errors import SearchQueryError, SearchUnavailableError, StorageError

SEARCH_TABLE = "session_search"
COLUMNS = ("session_id", "name", "project", "tags", "models", "body")
# Tags and models are stored one per line, so a filter can match a whole entry.
_LIST_SEPARATOR = "\n"
# Weights per column, in COLUMNS order: a hit in the name counts most, the body least.
_RANK = "bm25(session_search, 0, 10.0, 4.0, 3.0, 3.0, 1.0)"
_SNIPPET = "snippet(session_search, 5, '«', '»', '…', 12)"
_NAME_HIGHLIGHT = "highlight(session_search, 1, '«', '»')"

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
) -> None:
    """Make `session_id` searchable with this content, replacing what was indexed before."""
    doc = SearchDoc(session_id, name, project, tags, models, body)
    with _transaction(engine) as connection:
        _delete(connection, session_id)
        _insert(connection, [doc])


def index_many(engine: Engine, docs: Sequence[SearchDoc], *, replacing: Collection[str]) -> None:
    """Add `docs` in one transaction; only ids in `replacing` had a row to remove first.

    Removing is a scan of the table (session_id is not an indexed column), so new
    sessions, which have nothing to remove, skip it.
    """
    with _transaction(engine) as connection:
        for doc in docs:
            if doc.session_id in replacing:
                _delete(connection, doc.session_id)
        _insert(connection, docs)


def document_count(engine: Engine) -> int:
    """How many sessions the search index holds (0 where search is unavailable)."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM session_search")).scalar() or 0)


def remove_session(engine: Engine, session_id: str) -> None:
    """Forget a session; removing one that was never indexed is not an error."""
    with _transaction(engine) as connection:
        _delete(connection, session_id)


def reindex_all(engine: Engine, rows: Iterable[SearchDoc]) -> None:
    """Replace the whole search index with `rows`, in one transaction."""
    with _transaction(engine) as connection:
        connection.execute(text("DELETE FROM session_search"))
        _insert(connection, rows)


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

    `project` matches the project's name or id, `tag` one whole tag, `model` part of a
    model name (all case-insensitive); `since` (an ISO date) keeps sessions started, or
    else created, on or after it.
    """
    if limit < 1:
        raise SearchQueryError(query, f"limit must be at least 1, not {limit}")
    where, params = _filters(query, project=project, tag=tag, model=model, since=since)
    sql = text(
        f"SELECT session_search.session_id, {_RANK} AS score, {_SNIPPET} AS snippet, "
        f"{_NAME_HIGHLIGHT} AS name_highlight "
        "FROM session_search "
        "LEFT JOIN sessions ON sessions.id = session_search.session_id "
        "LEFT JOIN projects ON projects.id = sessions.project_id "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY score, session_search.session_id LIMIT :limit"
    )
    params |= {"query": fts_query(query), "limit": limit}
    try:
        with _transaction(engine) as connection:
            rows = connection.execute(sql, params).all()
    except StorageError as exc:
        if _is_query_problem(exc.reason):
            raise SearchQueryError(query, exc.reason.removeprefix("fts5: ")) from exc.__cause__
        raise
    return [Hit(row.session_id, -float(row.score), row.snippet, row.name_highlight) for row in rows]


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


def _filters(
    query: str,
    *,
    project: str | None,
    tag: str | None,
    model: str | None,
    since: str | None,
) -> tuple[list[str], dict[str, Any]]:
    where = ["session_search MATCH :query"]
    params: dict[str, Any] = {}
    if project is not None:
        where.append(
            "(lower(projects.name) = lower(:project) OR lower(sessions.project_id) = "
            "lower(:project) OR lower(session_search.project) = lower(:project))"
        )
        params["project"] = project
    if tag is not None:
        # Whole-entry match: the stored list and the wanted tag are both wrapped in newlines.
        where.append("instr(lower(char(10) || tags || char(10)), lower(:tag)) > 0")
        params["tag"] = f"{_LIST_SEPARATOR}{tag}{_LIST_SEPARATOR}"
    if model is not None:
        where.append("instr(lower(models), lower(:model)) > 0")
        params["model"] = model
    if since is not None:
        _check_iso_date(query, since)
        where.append("COALESCE(sessions.started_at, sessions.created_at) >= :since")
        params["since"] = since
    return where, params


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
    connection.execute(
        text("DELETE FROM session_search WHERE session_id = :session_id"),
        {"session_id": session_id},
    )


def _insert(connection: Connection, docs: Iterable[SearchDoc]) -> None:
    values = [
        {
            "session_id": doc.session_id,
            "name": doc.name,
            "project": doc.project,
            "tags": _LIST_SEPARATOR.join(doc.tags),
            "models": _LIST_SEPARATOR.join(doc.models),
            "body": doc.body,
        }
        for doc in docs
    ]
    if values:
        columns = ", ".join(COLUMNS)
        placeholders = ", ".join(f":{column}" for column in COLUMNS)
        connection.execute(
            text(f"INSERT INTO session_search ({columns}) VALUES ({placeholders})"), values
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
        raise StorageError("the search index", _one_line(exc)) from exc


def _one_line(exc: Exception) -> str:
    """The driver's own message, without SQLAlchemy's SQL and parameter dump."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
