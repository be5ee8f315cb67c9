"""What `ls`, `show` and `status` read from the index, and those reads on the standard
library alone.

`IndexReading` is the part of the Store these commands use. `IndexReader` answers the
same queries through the plain `sqlite3` connection of `reader.open_reader`, so the
commands need not import SQLAlchemy when the index is a current SQLite file; its rows
become records through the same `*_from_columns` functions as the Store's.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from syncd.errors import StorageError, driver_message
from syncd.index.reader import open_reader
from syncd.index.records import (
    BUDGET_ROWS,
    ArchiveState,
    BudgetKind,
    BudgetRecord,
    ProjectRecord,
    PushState,
    RunOutcome,
    RunRecord,
    archive_from_columns,
    budget_from_columns,
    project_from_columns,
    push_state_from_columns,
    run_from_columns,
    session_from_columns,
)
from syncd.index.statuses import StoryStatus
from syncd.model import SessionRecord


class IndexReading(Protocol):
    """The index as the read-only commands see it: the Store, or an IndexReader."""

    def projects(self) -> dict[str, ProjectRecord]: ...
    def sessions(self) -> dict[str, SessionRecord]: ...
    def session(self, session_id: str) -> SessionRecord | None: ...
    def session_by_path(self, relative: str) -> SessionRecord | None: ...
    def count_sessions(self, *, live: bool = False) -> int: ...
    def count_projects(self) -> int: ...
    def runs(self, limit: int = 10) -> list[RunRecord]: ...
    def last_success(self) -> RunRecord | None: ...
    def last_listing(self) -> RunRecord | None: ...
    def budget(self, kind: BudgetKind = "rest") -> BudgetRecord | None: ...
    def archive_state(self) -> ArchiveState: ...
    def push_state(self) -> PushState: ...
    def story_counts(self) -> dict[str, int]: ...
    def earliest_poll(self, statuses: tuple[StoryStatus, ...]) -> float | None: ...
    def latest_ready_stories(self, limit: int) -> list[tuple[str, str]]: ...
    def close(self) -> None: ...


# How SQLAlchemy keeps these types in SQLite (models.py): JSON as text, timestamps as
# "YYYY-MM-DD HH:MM:SS.ffffff" text. The tests compare every record with the Store's.
_JSON_COLUMNS = frozenset({"metadata", "errors"})
_TIME_COLUMNS = frozenset(
    {
        "synced_at",
        "last_attempt_at",
        "last_commit_at",
        "failing_since",
        "push_failing_since",
    }
)
_RUN_TIME_COLUMNS = frozenset({"started_at", "ended_at"})  # sessions keep these as text

_Record = TypeVar("_Record")


class IndexReader:
    """Read-only queries on a current SQLite index, with the standard library alone."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, database_url: str) -> IndexReader | None:
        """A reader, or None when the index is not a current SQLite file (then the Store
        opens it, upgrading it or saying what is wrong)."""
        connection = open_reader(database_url)
        return cls(connection) if connection is not None else None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- projects and sessions -----------------------------------------------------------

    def projects(self) -> dict[str, ProjectRecord]:
        rows = self._rows("SELECT * FROM projects", (), project_from_columns)
        return {record.id: record for record in rows}

    def sessions(self) -> dict[str, SessionRecord]:
        rows = self._rows("SELECT * FROM sessions", (), session_from_columns)
        return {record.id: record for record in rows}

    def session(self, session_id: str) -> SessionRecord | None:
        query = "SELECT * FROM sessions WHERE id = ?"
        return _first(self._rows(query, (session_id,), session_from_columns))

    def session_by_path(self, relative: str) -> SessionRecord | None:
        query = "SELECT * FROM sessions WHERE path = ?"
        return _first(self._rows(query, (relative,), session_from_columns))

    def count_sessions(self, *, live: bool = False) -> int:
        where = " WHERE cloud_deleted_at IS NULL" if live else ""
        return int(self._value(f"SELECT count(*) FROM sessions{where}", ()) or 0)

    def count_projects(self) -> int:
        return int(self._value("SELECT count(*) FROM projects", ()) or 0)

    # --- runs, budget, archive -------------------------------------------------------

    def runs(self, limit: int = 10) -> list[RunRecord]:
        return self._rows("SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?", (limit,), _run)

    def last_success(self) -> RunRecord | None:
        query = (
            "SELECT * FROM sync_runs WHERE ended_at IS NOT NULL AND outcome = ?"
            " ORDER BY id DESC LIMIT 1"
        )
        return _first(self._rows(query, (RunOutcome.SUCCEEDED.value,), _run))

    def last_listing(self) -> RunRecord | None:
        query = "SELECT * FROM sync_runs WHERE listed IS NOT NULL ORDER BY id DESC LIMIT 1"
        return _first(self._rows(query, (), _run))

    def budget(self, kind: BudgetKind = "rest") -> BudgetRecord | None:
        query = "SELECT * FROM rate_budget WHERE id = ?"
        return _first(self._rows(query, (BUDGET_ROWS[kind],), budget_from_columns))

    def archive_state(self) -> ArchiveState:
        query = "SELECT * FROM archive_state WHERE id = 1"
        return _first(self._rows(query, (), archive_from_columns)) or ArchiveState()

    # --- PullStory -------------------------------------------------------------------

    def push_state(self) -> PushState:
        query = "SELECT * FROM push_state WHERE id = 1"
        return _first(self._rows(query, (), push_state_from_columns)) or PushState()

    def story_counts(self) -> dict[str, int]:
        query = "SELECT status, count(*) FROM stories GROUP BY status"
        return {str(status): int(count) for status, count in self._execute(query, ())}

    def earliest_poll(self, statuses: tuple[StoryStatus, ...]) -> float | None:
        marks = ", ".join("?" * len(statuses))
        query = f"SELECT min(next_poll_at) FROM stories WHERE status IN ({marks})"
        found = self._value(query, tuple(status.value for status in statuses))
        return float(found) if found is not None else None

    def latest_ready_stories(self, limit: int) -> list[tuple[str, str]]:
        query = (
            "SELECT session_id, url FROM stories WHERE status = ? AND url IS NOT NULL"
            " ORDER BY id DESC LIMIT ?"
        )
        rows = self._execute(query, (StoryStatus.READY.value, limit))
        return [(str(session_id), str(url)) for session_id, url in rows]

    # --- plumbing --------------------------------------------------------------------

    def _execute(self, query: str, parameters: tuple[Any, ...]) -> list[sqlite3.Row]:
        try:
            return self._db.execute(query, parameters).fetchall()
        except sqlite3.Error as exc:  # as the Store says it: the driver's first line
            raise StorageError("the index", driver_message(exc)) from exc

    def _value(self, query: str, parameters: tuple[Any, ...]) -> Any:
        rows = self._execute(query, parameters)
        return rows[0][0] if rows else None

    def _rows(
        self, query: str, parameters: tuple[Any, ...], record: Callable[[dict[str, Any]], _Record]
    ) -> list[_Record]:
        rows = self._execute(query, parameters)
        if not rows:
            return []
        names = rows[0].keys()
        decode = _decoder(names)
        return [record(decode(dict(zip(names, row, strict=True)))) for row in rows]


def _run(columns: dict[str, Any]) -> RunRecord:
    for name in _RUN_TIME_COLUMNS:
        columns[name] = _datetime(columns[name])
    return run_from_columns(columns)


def _decoder(names: list[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns a row of these columns into values as SQLAlchemy's column types hand them to
    the Store (which columns need it is worked out once per query, not once per row)."""
    jsons = _JSON_COLUMNS.intersection(names)
    times = _TIME_COLUMNS.intersection(names)

    def decode(columns: dict[str, Any]) -> dict[str, Any]:
        for name in jsons:
            text = columns[name]
            columns[name] = json.loads(text) if text is not None else None
        for name in times:
            columns[name] = _datetime(columns[name])
        return columns

    return decode


def _datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _first(records: Iterable[_Record]) -> _Record | None:
    return next(iter(records), None)
