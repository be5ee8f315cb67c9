"""Keep the full-text index in step with the mirror: one document per session file."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from syncd.errors import SearchUnavailableError, SyncdError
from syncd.index import search
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror

logger = logging.getLogger(__name__)

# The first this-many bytes of a body are searchable: enough for any real conversation's
# wording, while a pathological 200 MB session cannot bloat the index.
MAX_BODY_BYTES = 4 * 1024 * 1024


def document(mirror: Mirror, record: SessionRecord, project: str) -> search.SearchDoc | None:
    """The search document for a mirrored file; None when the file cannot be read."""
    try:
        head = b"".join(_first_bytes(mirror, record.path, MAX_BODY_BYTES + 65536))
    except SyncdError:
        return None
    try:
        _, body = frontmatter.split(head)
    except frontmatter.FrontMatterError:
        body = head
    meta = record.metadata or {}
    return search.SearchDoc(
        session_id=record.id,
        name=record.name,
        project=project,
        tags=[str(t) for t in meta.get("tags") or ()],
        models=[str(m) for m in meta.get("llmModels") or ()],
        body=body[:MAX_BODY_BYTES].decode("utf-8", errors="ignore"),
    )


def _first_bytes(mirror: Mirror, relative: str, limit: int) -> Iterator[bytes]:
    taken = 0
    for chunk in mirror.iter_bytes(relative):
        yield chunk[: limit - taken]
        taken += len(chunk)
        if taken >= limit:
            return


def refresh_search_index(store: Store, mirror: Mirror) -> int:
    """Bring the search index up to date with the mirror; returns the sessions (re)indexed.

    Done on demand (before a search), not during syncs: tokenising every body would make
    a sync several times slower. Each file is indexed once per version (its sha256).
    """
    engine = store.engine
    if engine.dialect.name != "sqlite":
        raise SearchUnavailableError(engine.dialect.name)
    with engine.connect() as connection:
        held: dict[str, str] = {row[0]: row[1] for row in connection.exec_driver_sql(STATE_QUERY)}
    sessions = store.sessions()
    projects = {p.id: p.name for p in store.projects().values()}
    stale = [r for r in sessions.values() if held.get(r.id) != r.file_sha256]
    gone = [sid for sid in held if sid not in sessions]
    for session_id in gone:
        search.remove_session(engine, session_id)
    batch: list[search.SearchDoc] = []
    for record in stale:
        doc = document(mirror, record, projects.get(record.project_id, ""))
        if doc is not None:
            batch.append(doc)
        if len(batch) >= BATCH:
            search.index_many(engine, batch, replacing=held.keys())
            batch = []
    search.index_many(engine, batch, replacing=held.keys())
    with engine.begin() as connection:
        for session_id in gone:
            connection.exec_driver_sql(
                "DELETE FROM session_search_state WHERE session_id = ?", (session_id,)
            )
        for record in stale:
            connection.exec_driver_sql(
                "INSERT OR REPLACE INTO session_search_state VALUES (?, ?)",
                (record.id, record.file_sha256 or ""),
            )
    if stale or gone:
        logger.debug("search index: %d updated, %d removed", len(stale), len(gone))
    return len(stale)


BATCH = 200  # sessions per transaction while indexing
STATE_QUERY = "SELECT session_id, file_sha256 FROM session_search_state"
