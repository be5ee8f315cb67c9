"""Keep the full-text index in step with the mirror: one document per session file.

Re-indexing a session leaves its old FTS5 row behind (see index/search.py); when such
rows are many, a refresh that may take its time (a sync's, not a search's) rebuilds the
table from the files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from syncd.errors import SearchUnavailableError, SyncdError
from syncd.index import search
from syncd.index.search_reader import MAX_BODY_BYTES
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror

logger = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "document", "refresh_search_index"]


def document(mirror: Mirror, record: SessionRecord, project: str) -> search.SearchDoc | None:
    """The search document for a mirrored file; None when the file cannot be read."""
    try:
        head = b"".join(_first_bytes(mirror, record.path, MAX_BODY_BYTES + 65536))
    except SyncdError:
        return None
    body = frontmatter.body_of(head)
    return search.SearchDoc(
        session_id=record.id,
        name=record.name,
        project=project,
        tags=list(record.metadata.tags),
        models=list(record.metadata.llm_models),
        body=body[:MAX_BODY_BYTES].decode("utf-8", errors="ignore"),
        file_sha256=record.file_sha256 or "",
    )


def _first_bytes(mirror: Mirror, relative: str, limit: int) -> Iterator[bytes]:
    taken = 0
    for chunk in mirror.iter_bytes(relative):
        yield chunk[: limit - taken]
        taken += len(chunk)
        if taken >= limit:
            return


def refresh_search_index(
    store: Store,
    mirror: Mirror,
    *,
    step: Callable[[], None] = lambda: None,
    compact: bool = True,
) -> int:
    """Bring the search index up to date with the mirror; returns the sessions (re)indexed.

    Each file is indexed once per version (its sha256), so a call with nothing new costs
    two indexed queries. Syncs call it after writing, and searches before searching, which also
    catches files that changed while nothing was syncing (a rebuild, an interrupted run).
    `step` is called before each file is read: a heartbeat, and where a stop request lands
    (what was indexed by then is kept). With `compact`, the table is rebuilt from every
    file once re-indexing left many rows behind.
    """
    engine = store.engine
    if engine.dialect.name not in search.SEARCHABLE:
        raise SearchUnavailableError(engine.dialect.name)
    if compact and search.needs_compacting(engine):
        return rebuild_search_index(store, mirror, step=step)
    stale_ids, gone = search.out_of_date(engine)
    if not stale_ids and not gone:
        return 0
    projects = {p.id: p.name for p in store.projects().values()}
    # Only the stale ones are loaded: a file that stays unreadable is retried every run.
    stale = [record for sid in stale_ids if (record := store.session(sid)) is not None]
    unreadable: list[str] = []
    batch: list[search.SearchDoc] = []
    for record in stale:
        step()
        doc = document(mirror, record, projects.get(record.project_id, ""))
        if doc is None:
            unreadable.append(record.id)  # its old text must not be shown; retried next time
            continue
        batch.append(doc)
        if len(batch) >= BATCH or sum(len(d.body) for d in batch) >= BATCH_CHARACTERS:
            search.index_many(engine, batch)
            batch = []
    search.index_many(engine, batch)
    search.remove_sessions(engine, [*gone, *unreadable])
    if stale or gone:
        logger.debug("search index: %d updated, %d removed", len(stale), len(gone))
    return len(stale) - len(unreadable)


def rebuild_search_index(
    store: Store, mirror: Mirror, *, step: Callable[[], None] = lambda: None
) -> int:
    """Index every session's file afresh, in one transaction; returns the sessions indexed."""
    projects = {p.id: p.name for p in store.projects().values()}
    records = list(store.sessions().values())
    indexed = 0

    def documents() -> Iterator[search.SearchDoc]:
        nonlocal indexed
        for record in records:
            step()
            doc = document(mirror, record, projects.get(record.project_id, ""))
            if doc is not None:  # an unreadable file is retried by the next refresh
                indexed += 1
                yield doc

    search.reindex_all(store.engine, documents())
    logger.debug("search index rebuilt: %d sessions", indexed)
    return indexed


# Sessions, and characters of text, per indexing transaction: few enough that the write
# lock is held well under a second and memory stays small, enough to amortise commits.
BATCH = 200
BATCH_CHARACTERS = 16 * 1024 * 1024
