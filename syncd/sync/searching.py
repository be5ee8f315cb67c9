"""Keep the full-text index in step with the mirror: one document per session file."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from syncd.errors import SyncdError
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


def index_file(store: Store, mirror: Mirror, record: SessionRecord, project: str) -> None:
    doc = document(mirror, record, project)
    if doc is None:
        return
    try:
        search.index_session(
            store.engine,
            doc.session_id,
            name=doc.name,
            project=doc.project,
            tags=doc.tags,
            models=doc.models,
            body=doc.body,
        )
    except SyncdError as exc:  # search is a convenience: never fail a sync for it
        logger.debug("not indexed for search: %s", exc.message)


def unindex(store: Store, session_id: str) -> None:
    try:
        search.remove_session(store.engine, session_id)
    except SyncdError as exc:
        logger.debug("search index: %s", exc.message)


def reindex_mirror(store: Store, mirror: Mirror) -> int:
    """Rebuild the whole search index from the files; returns the number indexed."""
    projects = {p.id: p.name for p in store.projects().values()}
    docs = [
        doc
        for record in store.sessions().values()
        if (doc := document(mirror, record, projects.get(record.project_id, ""))) is not None
    ]
    search.reindex_all(store.engine, docs)
    return len(docs)


def _first_bytes(mirror: Mirror, relative: str, limit: int) -> Iterator[bytes]:
    taken = 0
    for chunk in mirror.iter_bytes(relative):
        yield chunk[: limit - taken]
        taken += len(chunk)
        if taken >= limit:
            return


def search_index_size(store: Store) -> int:
    """Documents in the search index (0 when the database has none)."""
    return search.document_count(store.engine)
