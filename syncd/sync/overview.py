"""The generated overview pages (root README.md, per-project INDEX.md) from index records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from syncd.index.records import ProjectRecord
from syncd.mirror.names import PROJECT_INDEX, ROOT_README
from syncd.mirror.pages import (
    ProjectEntry,
    SessionEntry,
    render_project_index,
    render_root_readme,
)
from syncd.model import SessionRecord


def render_pages(
    projects: Sequence[ProjectRecord], sessions: Iterable[SessionRecord]
) -> dict[str, bytes]:
    """Relative path -> page bytes for every indexed project and the root."""
    by_project: dict[str, list[SessionRecord]] = {p.id: [] for p in projects}
    for record in sessions:
        if record.project_id in by_project:
            by_project[record.project_id].append(record)
    pages: dict[str, bytes] = {}
    entries: list[ProjectEntry] = []
    for project in projects:
        records = by_project[project.id]
        dirname = project.dirname
        rows = [_session_entry(r) for r in records]
        pages[f"{dirname}/{PROJECT_INDEX}"] = render_project_index(project.name, rows).encode()
        last = max((r.updated_at or r.created_at or "" for r in records), default="") or None
        entries.append(ProjectEntry(dirname, project.name, len(records), last))
    pages[ROOT_README] = render_root_readme(entries).encode()
    return pages


def _session_entry(record: SessionRecord) -> SessionEntry:
    return SessionEntry(
        filename=PurePosixPath(record.path).name,
        name=record.name,
        started=record.started_at or record.created_at,
        models=record.metadata.llm_models,
        tags=record.metadata.tags,
        deleted_in_cloud=record.cloud_deleted_at is not None,
    )
