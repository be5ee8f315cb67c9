"""Read-only access to a SQLite index with the standard library alone.

`ls`, `show`, `status` and `search` only read the index; importing SQLAlchemy costs them
several times what the reading does. When the index is a SQLite file already at the
newest schema, they read it through a plain `sqlite3` connection opened here; otherwise
(another backend, an index an older syncd left, an unusual URL) `open_reader` answers
None and the caller takes the SQLAlchemy path, which migrates and reports errors.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote

from syncd.index.revision import HEAD_REVISION

_SQLITE_PREFIX = "sqlite:///"
_BUSY_TIMEOUT_MS = 5000  # as the Store's connections: wait out a syncing daemon's write


def sqlite_file(database_url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for other backends, in-memory
    databases and URLs with options (those go through SQLAlchemy)."""
    if not database_url.startswith(_SQLITE_PREFIX) or "?" in database_url:
        return None
    path = unquote(database_url[len(_SQLITE_PREFIX) :])
    if path in ("", ":memory:"):
        return None
    return Path(path)


def open_reader(database_url: str) -> sqlite3.Connection | None:
    """A read-only connection to the index (rows as sqlite3.Row), or None when the fast
    path does not apply: not a SQLite file, no file yet, or a schema not at HEAD."""
    path = sqlite_file(database_url)
    if path is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only=ON")
        if _recorded_revision(connection) != HEAD_REVISION:
            connection.close()
            return None
    except sqlite3.Error:
        connection.close()
        return None
    connection.row_factory = sqlite3.Row
    return connection


def _recorded_revision(connection: sqlite3.Connection) -> str | None:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return None  # no table: never migrated
    return str(rows[0][0]) if len(rows) == 1 else None
