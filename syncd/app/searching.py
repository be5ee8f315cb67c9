"""`syncd search`: the best sessions for a query, from the index and the mirrored files.

When the index is a SQLite file at the newest schema and already holds every session's
current file (the usual case: syncs keep it current), the search runs on a read-only
standard-library connection and never imports SQLAlchemy. Otherwise the index is opened
as `ls` opens it (upgraded when an older syncd left it), brought up to date with the
mirror, then searched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd.config import Settings
from syncd.errors import StorageError
from syncd.index.filters import SessionFilter
from syncd.index.reader import open_reader
from syncd.index.search_reader import Hit, ReadFile, find, is_current
from syncd.mirror import nofollow

logger = logging.getLogger(__name__)

# The first read is small: most snippets are in a session's first lines; then larger reads.
_FIRST_CHUNK_BYTES = 16 * 1024
_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Found:
    """One search hit and its session."""

    hit: Hit
    session_id: str
    name: str
    project_name: str
    path: Path  # the mirrored file


def search_sessions(
    settings: Settings, query: str, wanted: SessionFilter, *, limit: int
) -> list[Found]:
    """The best `limit` sessions matching `query` that `wanted` keeps, best first; the
    search index is brought up to date with the mirror first when it is not."""
    root = settings.mirror_root
    hits = _search_current_index(settings, query, wanted, limit)
    if hits is None:
        hits = _refresh_then_search(settings, query, wanted, limit)
    return [Found(hit, hit.session_id, hit.name, hit.project_name, root / hit.path) for hit in hits]


def _search_current_index(
    settings: Settings, query: str, wanted: SessionFilter, limit: int
) -> list[Hit] | None:
    """The hits, read with the standard library alone; None when that path does not
    apply (no SQLite file at the newest schema, or an index to bring up to date)."""
    connection = open_reader(settings.index_url)
    if connection is None:
        return None
    try:
        if not is_current(connection):
            return None
        read_file = file_reader(settings.mirror_root)
        return find(connection, query, read_file, wanted=wanted, limit=limit)
    except StorageError as exc:
        logger.debug("search: the index cannot be read directly (%s)", exc)
        return None
    except sqlite3.Error as exc:
        logger.debug("search: the index cannot be read directly (%s)", exc)
        return None
    finally:
        connection.close()


def _refresh_then_search(
    settings: Settings, query: str, wanted: SessionFilter, limit: int
) -> list[Hit]:
    # Here, not at the top: SQLAlchemy and the sync package cost a search most of its time.
    from syncd.app.browsing import open_mirror
    from syncd.index.search import current, search

    store, mirror = open_mirror(settings)
    with store:
        try:
            # A current index (a server's, usually: syncs keep it so) is searched without
            # importing the sync package, a third of such a search's time.
            if not current(store.engine):
                from syncd.sync.searching import refresh_search_index

                # compact=False: rebuilding the whole table is a sync's job, not a search's.
                refresh_search_index(store, mirror, compact=False)
        except StorageError as exc:  # e.g. a sync holds the index longer than the busy wait
            logger.warning("searching without the newest changes: %s", exc)
        return search(
            store.engine,
            query,
            read_file=file_reader(settings.mirror_root),
            project=wanted.project,
            tag=wanted.tag,
            model=wanted.model,
            since=wanted.since,
            limit=limit,
        )


def file_reader(root: Path) -> ReadFile:
    """Reads a mirrored file by its path under `root`, never through a link."""

    def read(relative: str) -> Iterator[bytes]:
        parts = relative.split("/")
        with nofollow.folder(root, parts[:-1], create=False, path=relative) as folder:
            if folder is None:
                raise StorageError(relative, "the file is gone")
            fd = nofollow.open_file(folder, parts[-1], path=relative, root=root)
        if fd is None:
            raise StorageError(relative, "the file is gone")
        try:
            size = _FIRST_CHUNK_BYTES
            while chunk := _read(fd, relative, size):
                yield chunk
                size = _CHUNK_BYTES
        finally:
            os.close(fd)

    return read


def _read(fd: int, relative: str, size: int) -> bytes:
    try:
        return os.read(fd, size)
    except OSError as exc:
        raise StorageError(relative, exc.strerror or str(exc)) from exc
